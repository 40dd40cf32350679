//! The Lambda function for `GET /console` and `GET /console/{asset}`.

fn main() -> Result<(), lock_service::lambda::Error> {
    lock_service::lambda::serve_console()
}
