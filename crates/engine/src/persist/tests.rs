use super::*;
use proptest::prelude::*;

proptest! {
    /// Sweeps are claimed exactly when a period passed since the last claim,
    /// whatever the order in which threads report the time.
    #[test]
    fn a_sweep_is_claimed_once_per_period(steps in proptest::collection::vec(0u64..1500, 1..200)) {
        let last = AtomicU64::new(0);
        let mut now = 0u64;
        let mut claimed_at = 0u64;
        for s in steps {
            now += s;
            let due = now - claimed_at >= PURGE_EVERY_MS;
            prop_assert_eq!(sweep_due(&last, now), due);
            if due {
                claimed_at = now;
            }
            // A second thread at the same instant never claims it again.
            prop_assert!(!sweep_due(&last, now));
        }
    }
}

#[test]
fn cookie_edits_replace_every_cookie_header_in_order() {
    let mut edits = Vec::new();
    request::cookie_edits(&None, &mut edits);
    assert!(edits.is_empty());
    let values = Some(vec![b"a=1".to_vec(), b"b=2".to_vec()]);
    request::cookie_edits(&values, &mut edits);
    assert_eq!(
        edits,
        [
            fulcrum_proto::http1::Edit::DelHeader { name: b"cookie" },
            fulcrum_proto::http1::Edit::AddHeader {
                name: b"Cookie",
                value: b"a=1"
            },
            fulcrum_proto::http1::Edit::AddHeader {
                name: b"Cookie",
                value: b"b=2"
            },
        ]
    );
}
