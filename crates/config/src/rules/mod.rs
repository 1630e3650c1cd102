//! The rule language's syntax tree: ACLs, sample expressions, conditions and actions.
//!
//! OWNER: rules helper. `parse` calls these entry points; `fulcrum-rules` compiles the tree.
