//! The non-proxy sections: `userlist`, `peers`, `resolvers`, `mailers`, `http-errors`, `ring`,
//! `program`. OWNER: config-sections helper.
