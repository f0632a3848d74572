//! The `passkeys`, `passkey_ceremonies` and `approval_proofs` tables.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::proto::{PasskeyId, PasskeyInfo, SessionId, UserId};

const INFO: &str = "id, name, created_at, last_used_at";

#[derive(Debug, FromRow)]
struct InfoRow {
    id: PasskeyId,
    name: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl From<InfoRow> for PasskeyInfo {
    fn from(row: InfoRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

pub struct NewPasskey<'a> {
    pub user_id: UserId,
    pub credential_id: &'a [u8],
    pub name: &'a str,
    pub credential: serde_json::Value,
}

/// `Err` with a unique violation when the credential is registered already (to any account).
pub async fn insert(
    db: impl PgExecutor<'_>,
    passkey: NewPasskey<'_>,
) -> Result<PasskeyInfo, sqlx::Error> {
    let row: InfoRow = sqlx::query_as(&format!(
        "INSERT INTO passkeys (id, user_id, credential_id, name, credential)
         VALUES ($1, $2, $3, $4, $5) RETURNING {INFO}"
    ))
    .bind(PasskeyId::random())
    .bind(passkey.user_id)
    .bind(passkey.credential_id)
    .bind(passkey.name)
    .bind(passkey.credential)
    .fetch_one(db)
    .await?;
    Ok(row.into())
}

pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<PasskeyInfo>, sqlx::Error> {
    let rows: Vec<InfoRow> = sqlx::query_as(&format!(
        "SELECT {INFO} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The credential ids of a user's passkeys (so registering one again is refused by the browser).
pub async fn credential_ids(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT credential_id FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(db)
        .await
}

/// The credentials of a user's passkeys (to confirm an approval with any of them).
pub async fn credentials(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar("SELECT credential FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(db)
        .await
}

#[derive(Debug, FromRow)]
pub struct Stored {
    pub id: PasskeyId,
    pub user_id: UserId,
    pub credential: serde_json::Value,
}

/// The passkey with this credential id, locked until the transaction ends: two sign-ins with one
/// passkey check and store its signature counter one after the other.
pub async fn lock_by_credential_id(
    db: impl PgExecutor<'_>,
    credential_id: &[u8],
) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, credential FROM passkeys WHERE credential_id = $1 FOR UPDATE",
    )
    .bind(credential_id)
    .fetch_optional(db)
    .await
}

/// Stores the credential after a use (its counter and backup state may have changed).
pub async fn record_use(
    db: impl PgExecutor<'_>,
    id: PasskeyId,
    credential: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE passkeys SET credential = $2, last_used_at = now() WHERE id = $1")
        .bind(id)
        .bind(credential)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn rename(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: PasskeyId,
    name: &str,
) -> Result<Option<PasskeyInfo>, sqlx::Error> {
    let row: Option<InfoRow> = sqlx::query_as(&format!(
        "UPDATE passkeys SET name = $3 WHERE id = $2 AND user_id = $1 RETURNING {INFO}"
    ))
    .bind(user_id)
    .bind(id)
    .bind(name)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

/// The removed passkey's name; `None` when the user has no such passkey.
pub async fn delete(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: PasskeyId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("DELETE FROM passkeys WHERE id = $2 AND user_id = $1 RETURNING name")
        .bind(user_id)
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn store_ceremony(
    db: impl PgExecutor<'_>,
    id_hash: &[u8],
    kind: &str,
    user_id: Option<UserId>,
    state: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO passkey_ceremonies (id_hash, kind, user_id, state) VALUES ($1, $2, $3, $4)",
    )
    .bind(id_hash)
    .bind(kind)
    .bind(user_id)
    .bind(state)
    .execute(db)
    .await?;
    Ok(())
}

/// Takes the ceremony (of this kind and user) if it is younger than `max_age_secs`, in one
/// statement: of two concurrent finishes exactly one gets it. A taken ceremony is gone, whether
/// or not it was still young enough.
pub async fn take_ceremony(
    db: impl PgExecutor<'_>,
    id_hash: &[u8],
    kind: &str,
    user_id: Option<UserId>,
    max_age_secs: f64,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let taken: Option<(serde_json::Value, bool)> = sqlx::query_as(
        "DELETE FROM passkey_ceremonies
         WHERE id_hash = $1 AND kind = $2 AND user_id IS NOT DISTINCT FROM $3
         RETURNING state, created_at > now() - make_interval(secs => $4)",
    )
    .bind(id_hash)
    .bind(kind)
    .bind(user_id)
    .bind(max_age_secs)
    .fetch_optional(db)
    .await?;
    Ok(taken.and_then(|(state, young)| young.then_some(state)))
}

/// Ceremonies and proofs long past use.
pub async fn delete_ended_before(
    db: &sqlx::PgPool,
    before: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM passkey_ceremonies WHERE created_at < $1")
        .bind(before)
        .execute(db)
        .await?;
    sqlx::query("DELETE FROM approval_proofs WHERE expires_at < $1")
        .bind(before)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn approvals_need_verification(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT approvals_need_verification FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
        .map(|on| on.unwrap_or(false))
}

pub async fn set_approvals_need_verification(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    on: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET approvals_need_verification = $2 WHERE id = $1")
        .bind(user_id)
        .bind(on)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn insert_proof(
    db: impl PgExecutor<'_>,
    proof_hash: &[u8],
    session_id: SessionId,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO approval_proofs (proof_hash, session_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(proof_hash)
    .bind(session_id)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Spends the session's proof; `false` when there is none, or it has expired.
pub async fn take_proof(
    db: impl PgExecutor<'_>,
    proof_hash: &[u8],
    session_id: SessionId,
) -> Result<bool, sqlx::Error> {
    let fresh: Option<bool> = sqlx::query_scalar(
        "DELETE FROM approval_proofs WHERE proof_hash = $1 AND session_id = $2
         RETURNING expires_at > now()",
    )
    .bind(proof_hash)
    .bind(session_id)
    .fetch_optional(db)
    .await?;
    Ok(fresh.unwrap_or(false))
}
