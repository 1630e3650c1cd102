//! Header edits the request and response views share; each returns whether the
//! list changed, so the view knows its head must be rewritten.

pub(super) type Headers = Vec<(Vec<u8>, Vec<u8>)>;

pub(super) fn add(h: &mut Headers, name: &[u8], value: &[u8]) -> bool {
    h.push((name.to_vec(), value.to_vec()));
    true
}

pub(super) fn set_value(h: &mut Headers, i: usize, value: &[u8]) -> bool {
    match h.get_mut(i) {
        Some(e) => {
            e.1 = value.to_vec();
            true
        }
        None => false,
    }
}

pub(super) fn remove(h: &mut Headers, i: usize) -> bool {
    if i < h.len() {
        h.remove(i);
        true
    } else {
        false
    }
}
