//! The floor under every function's warm latency: a `bootstrap` on the
//! functions' own runtime (`lambda_http` on tokio's single-threaded
//! runtime, the release profile) that answers each API Gateway event at
//! once, with no DynamoDB call and no handler. Under the bench's Runtime API
//! emulator its latency is what fetching the event, parsing it and posting
//! the answer cost alone; what a real function adds beyond the floor and the
//! raw engine round trip is its handler's own.

use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .map_err(Error::from)
    }))
    .await
}
