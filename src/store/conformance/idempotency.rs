//! Conformance: Idempotency claims.

use super::*;

/// A claim on an idempotency key made at `now_ms` with a lease of `lease_ms`.
fn claim(token: i64, hash: &[u8], now_ms: i64, lease_ms: i64) -> NewClaim {
    NewClaim {
        request_hash: hash.to_vec(),
        token,
        now: now_ms / 1000,
        since: now_ms / 1000 - 86_400,
        now_ms,
        lease_until_ms: now_ms + lease_ms,
    }
}

pub async fn idempotency_claims_end_or_lapse(store: Arc<dyn Store>) {
    use IdempotencyClaim::*;
    let ws = default_ws(&store).await.id;
    let t = 1_700_000_000_000;
    let in_progress = InProgress {
        request_hash: b"h".to_vec(),
    };
    assert_eq!(
        store
            .claim_idempotency_key(ws, "k", claim(1, b"h", t, 1000))
            .await,
        Ok(Claimed)
    );
    // Held: another claim within the lease is told so, whatever its request.
    for (at, hash) in [(t + 1, b"h"), (t + 1000, b"h"), (t + 500, b"x")] {
        let r = store
            .claim_idempotency_key(ws, "k", claim(2, hash, at, 1000))
            .await;
        let hash_held = if hash == b"x" { b"h" } else { hash };
        assert_eq!(
            r,
            Ok(InProgress {
                request_hash: hash_held.to_vec()
            })
        );
    }
    // Only the holder renews: the lease moves on.
    assert_eq!(
        store.renew_idempotency_key(ws, "k", 2, t + 5000).await,
        Ok(false)
    );
    assert_eq!(
        store.renew_idempotency_key(ws, "k", 1, t + 5000).await,
        Ok(true)
    );
    assert_eq!(
        store
            .claim_idempotency_key(ws, "k", claim(3, b"h", t + 4000, 1000))
            .await,
        Ok(in_progress.clone())
    );
    // Past the lease, the next claim takes the key over, and the old holder can
    // neither renew, answer nor release it any more.
    assert_eq!(
        store
            .claim_idempotency_key(ws, "k", claim(4, b"h2", t + 5001, 1000))
            .await,
        Ok(Claimed)
    );
    assert_eq!(
        store.renew_idempotency_key(ws, "k", 1, t + 9000).await,
        Ok(false)
    );
    assert_eq!(
        store
            .finish_idempotency_key(ws, "k", 1, 201, "old".into())
            .await,
        Ok(false)
    );
    store.abort_idempotency_key(ws, "k", 1).await.unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(ws, "k", claim(5, b"h2", t + 5002, 1000))
            .await,
        Ok(InProgress {
            request_hash: b"h2".to_vec()
        })
    );
    // The holder's answer is kept, and given to every later claim, lease or not.
    assert_eq!(
        store
            .finish_idempotency_key(ws, "k", 4, 201, "{}".into())
            .await,
        Ok(true)
    );
    let done = Done {
        request_hash: b"h2".to_vec(),
        status: 201,
        body: "{}".into(),
    };
    for at in [t + 5003, t + 60_000_000] {
        assert_eq!(
            store
                .claim_idempotency_key(ws, "k", claim(6, b"h2", at, 1000))
                .await,
            Ok(done.clone())
        );
    }
    assert_eq!(store.abort_idempotency_key(ws, "k", 4).await, Ok(()));
    assert_eq!(
        store
            .finish_idempotency_key(ws, "k", 4, 500, "again".into())
            .await,
        Ok(false)
    );
    assert_eq!(
        store
            .claim_idempotency_key(ws, "k", claim(6, b"h2", t + 6000, 1000))
            .await,
        Ok(done)
    );
    // A released claim frees the key at once.
    assert_eq!(
        store
            .claim_idempotency_key(ws, "r", claim(7, b"h", t, 1000))
            .await,
        Ok(Claimed)
    );
    store.abort_idempotency_key(ws, "r", 7).await.unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(ws, "r", claim(8, b"h", t + 1, 1000))
            .await,
        Ok(Claimed)
    );
    // Answers older than the retention count as absent.
    let late = claim(9, b"h", t + 2 * 86_400_000, 1000);
    assert_eq!(
        store.claim_idempotency_key(ws, "k", late).await,
        Ok(Claimed)
    );
}

/// Retries racing for a lapsed claim: exactly one takes it over, every round.
pub async fn a_lapsed_claim_is_taken_over_once(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await.id;
    let t = 1_700_000_000_000;
    for round in 0..20 {
        let key = format!("k{round}");
        assert_eq!(
            store
                .claim_idempotency_key(ws, &key, claim(1, b"h", t, 1000))
                .await,
            Ok(IdempotencyClaim::Claimed)
        );
        let mut tasks = Vec::new();
        for token in 2..12 {
            let (store, key) = (store.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                let c = claim(token, b"h", t + 2000, 1000);
                store.claim_idempotency_key(ws, &key, c).await
            }));
        }
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(IdempotencyClaim::Claimed) => won += 1,
                Ok(IdempotencyClaim::InProgress { .. }) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}
