//! The expressions of the API-keys table: registering, rotating and
//! revoking keys.

/// Never overwrite a stored key.
pub(in crate::store) const REGISTER_KEY_CONDITION: &str = "attribute_not_exists(#keyHash)";
/// The key exists.
pub(in crate::store) const KEY_EXISTS: &str = "attribute_exists(#keyHash)";
/// A key of one user (a user's record is a record, never a key of theirs).
pub(in crate::store) const KEY_OF_USER: &str = "attribute_exists(#keyHash) AND #userId = :userId";
/// A key is rotated once: it exists, has no successor, and is not revoked.
pub(in crate::store) const ROTATE_CONDITION: &str =
    "attribute_exists(#keyHash) AND attribute_not_exists(#rotatedTo) AND attribute_not_exists(#revokedAt)";
/// Record the sealed successor, what the rotation's Idempotency-Key was,
/// when the old key stops working, and when TTL may delete it.
pub(in crate::store) const ROTATE_UPDATE: &str =
    "SET #rotatedTo = :rotatedTo, #rotatedAt = :now, #expiresAt = :expiresAt, \
     #rotationKey = :rotationKey, #gcAt = :gcAt";
/// Revoke; a second revocation keeps the first one's time. TTL may delete
/// the item later (an unknown key is refused like a revoked one).
pub(in crate::store) const REVOKE_UPDATE: &str =
    "SET #revokedAt = if_not_exists(#revokedAt, :now), #gcAt = :gcAt";
/// Another key of the user that could still work: not revoked, and not
/// stopped before `:cutoff` (the retry window of a rotation).
pub(in crate::store) const REVOKE_OTHER_CONDITION: &str =
    "attribute_exists(#keyHash) AND #userId = :userId AND attribute_not_exists(#revokedAt) \
     AND (attribute_not_exists(#expiresAt) OR #expiresAt > :cutoff)";
