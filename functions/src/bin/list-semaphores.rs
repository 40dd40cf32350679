//! The Lambda function for `GET /v0/semaphores`.

fn main() -> Result<(), lock_service::lambda::Error> {
    lock_service::lambda::serve::<lock_service::endpoints::ListSemaphores>()
}
