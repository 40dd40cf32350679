//! The REST API's TOKEN authorizer.

fn main() -> Result<(), lock_service::lambda::Error> {
    lock_service::lambda::serve_authorizer()
}
