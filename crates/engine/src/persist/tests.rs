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

#[test]
fn requests_and_ends_reach_the_tracked_entries() {
    use fulcrum_config::model::persist::StickTable as Model;
    use fulcrum_config::model::persist::{StoreData, TableKeyType};
    use fulcrum_persist::data::Cnt;
    use fulcrum_persist::track::TrackFrom;
    let model = Model {
        key: TableKeyType::String { len: 32 },
        size: 10,
        expire: Some(std::time::Duration::from_secs(60)),
        nopurge: false,
        peers: None,
        srvkey_addr: false,
        write_to: None,
        recv_only: false,
        store: vec![
            StoreData::HttpReqCnt,
            StoreData::ConnCur,
            StoreData::HttpErrCnt,
        ],
        span: fulcrum_config::Span::new("t.cfg", 1),
    };
    let table = Arc::new(StickTable::from_model("fe", &model));
    let key = Key::from_text(table.key_type(), b"client").unwrap();
    let st = SessionState::default();
    st.session
        .borrow_mut()
        .track(0, &table, key.clone(), now_ms(), TrackFrom::Tcp)
        .unwrap();
    st.stream
        .borrow_mut()
        .track(1, &table, key.clone(), now_ms(), TrackFrom::HttpRequest)
        .unwrap();
    request_start(Some(&st));
    txn_end(Some(&st), Some(404));
    let read = |c| {
        table
            .get(&key, now_ms(), |d| d.cnt(table.schema(), c))
            .flatten()
    };
    // One request counted by the session's tracker, one by the stream's.
    assert_eq!(read(Cnt::HttpReqCnt), Some(2));
    assert_eq!(read(Cnt::HttpErrCnt), Some(2));
    // The stream's tracking ended with the transaction; the session's goes on.
    assert_eq!(read(Cnt::ConnCur), Some(1));
    assert!(st.stream.borrow().get(1).is_none());
}
