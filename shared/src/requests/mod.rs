//! Each endpoint's request, parsed into validated values before anything is
//! read or written. A request that does not parse changes nothing.

mod keys;
mod list;
mod locks;

pub use keys::{RevokeRequest, RotateRequest};
pub use list::{cursor_after, ListRequest, MAX_PAGE_LIMIT};
pub use locks::{AcquireRequest, DeleteRequest, GetRequest, RenewRequest, UnlockBy, UnlockRequest};

#[cfg(test)]
mod tests;
