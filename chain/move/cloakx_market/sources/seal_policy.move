// seal_policy.move — the marketplace's Seal policies (chain/RULES.md §2.3): key servers dry-run
// these before releasing a key for [package id][id]; an abort denies.
module cloakx_market::seal_policy;

use cloakx_market::market::{Self, Pool, Job};

/// the sender may not have this key
const ENoAccess: u64 = 1;

/// A seller's data key for pool (id = pool id || nonce): only for an enclave the pool's
/// operator added, asking with its registered key.
entry fun seal_approve_dataset<T>(id: vector<u8>, pool: &Pool<T>, ctx: &TxContext) {
    assert!(market::dataset_access(&id, pool, ctx.sender()), ENoAccess);
}

/// The second half of a job's model key (id = job id): only for the buyer, once paid.
entry fun seal_approve_model<T>(id: vector<u8>, job: &Job<T>, ctx: &TxContext) {
    assert!(market::model_access(&id, job, ctx.sender()), ENoAccess);
}
