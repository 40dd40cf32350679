//! The proxy against an echo upstream: faults at random and scripted,
//! counting, and which clients await an answer.

use std::net::SocketAddr;

use super::*;

/// An upstream that answers every chunk with "ok:" + the chunk, and counts them.
async fn echo_upstream() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                while let Ok(n @ 1..) = stream.read(&mut buffer).await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let mut reply = b"ok:".to_vec();
                    reply.extend_from_slice(&buffer[..n]);
                    if stream.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (address, received)
}

/// A proxy to an echo upstream, with `faults`, and the upstream's count.
async fn proxied(faults: Faults) -> (Proxy, Arc<AtomicU64>) {
    let (upstream, received) = echo_upstream().await;
    let proxy = Proxy::start(&upstream.to_string()).await.unwrap();
    proxy.set(faults);
    (proxy, received)
}

async fn exchange(endpoint: &str, message: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(endpoint.trim_start_matches("http://")).await?;
    stream.write_all(message).await?;
    let mut reply = vec![0u8; 1024];
    let n = stream.read(&mut reply).await?;
    reply.truncate(n);
    Ok(reply)
}

#[tokio::test]
async fn passes_traffic_through_without_faults() {
    let (upstream, received) = echo_upstream().await;
    let proxy = Proxy::start(&upstream.to_string()).await.unwrap();
    assert_eq!(exchange(&proxy.endpoint, b"hi").await.unwrap(), b"ok:hi");
    assert_eq!(received.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.injected(), Injected::default());
}

#[tokio::test]
async fn a_dropped_answer_was_applied_upstream() {
    let (proxy, received) = proxied(Faults::drops(1.0)).await;
    let reply = exchange(&proxy.endpoint, b"write").await;
    assert!(matches!(reply.as_deref(), Ok(b"") | Err(_)), "{reply:?}");
    assert_eq!(received.load(Ordering::SeqCst), 1, "the engine got it");
    assert_eq!(proxy.injected().dropped_answers, 1);
}

#[tokio::test]
async fn a_reset_request_never_reaches_upstream() {
    let (proxy, received) = proxied(Faults::resets(1.0)).await;
    let reply = exchange(&proxy.endpoint, b"write").await;
    assert!(reply.is_err(), "a reset is an error, got {reply:?}");
    assert_eq!(received.load(Ordering::SeqCst), 0);
    assert_eq!(proxy.injected().resets, 1);
}

#[tokio::test]
async fn knows_which_clients_await_an_answer() {
    let (proxy, _) = proxied(Faults::delays(Duration::from_millis(300))).await;
    let mut stream = TcpStream::connect(proxy.endpoint.trim_start_matches("http://"))
        .await
        .unwrap();
    let port = stream.local_addr().unwrap().port();
    stream.write_all(b"x").await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while !proxy.ports_awaiting_answer().contains(&port) {
        assert!(std::time::Instant::now() < deadline, "never seen awaiting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut reply = [0u8; 8];
    let n = stream.read(&mut reply).await.unwrap();
    assert_eq!(&reply[..n], b"ok:x");
    assert!(!proxy.ports_awaiting_answer().contains(&port));
}

#[tokio::test]
async fn delays_hold_traffic_back() {
    let (proxy, _) = proxied(Faults::delays(Duration::from_millis(200))).await;
    let started = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(exchange(&proxy.endpoint, b"x").await.unwrap(), b"ok:x");
    }
    assert_eq!(proxy.injected().delays, 10);
    assert!(started.elapsed() > Duration::from_millis(100));
}

#[tokio::test]
async fn scripted_connections_lose_their_answer_or_get_one_of_the_proxys() {
    let (upstream, received) = echo_upstream().await;
    let proxy = Proxy::start(&upstream.to_string()).await.unwrap();
    let bad_gateway = b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n".to_vec();
    proxy.script(vec![
        Scripted::LoseAnswer,
        Scripted::Answer(bad_gateway.clone()),
    ]);
    let lost = exchange(&proxy.endpoint, b"first").await;
    assert!(matches!(lost.as_deref(), Ok(b"") | Err(_)), "{lost:?}");
    assert_eq!(
        received.load(Ordering::SeqCst),
        1,
        "the lost one reached upstream"
    );
    assert_eq!(
        exchange(&proxy.endpoint, b"second").await.unwrap(),
        bad_gateway
    );
    assert_eq!(
        received.load(Ordering::SeqCst),
        1,
        "the answered one did not"
    );
    assert_eq!(
        exchange(&proxy.endpoint, b"third").await.unwrap(),
        b"ok:third"
    );
}

#[tokio::test]
async fn dynamodb_calls_are_counted_by_operation_and_heads_recorded() {
    let (upstream, _) = echo_upstream().await;
    let proxy = Proxy::start(&upstream.to_string()).await.unwrap();
    let request = b"POST / HTTP/1.1\r\nX-Amz-Target: DynamoDB_20120810.UpdateItem\r\ncontent-length: 2\r\n\r\n{}";
    exchange(&proxy.endpoint, request).await.unwrap();
    let before = proxy.calls();
    exchange(
        &proxy.endpoint,
        b"POST / HTTP/1.1\r\nx-amz-target: DynamoDB_20120810.GetItem\r\n\r\n",
    )
    .await
    .unwrap();
    exchange(&proxy.endpoint, request).await.unwrap();
    assert_eq!(describe(&proxy.calls()), "GetItem + 2×UpdateItem");
    assert_eq!(total(&proxy.calls_since(&before)), 2);
    assert_eq!(proxy.requests().len(), 3);
    assert!(proxy.requests()[0].contains("x-amz-target: dynamodb_20120810.updateitem"));
}

/// An HTTP request head for DynamoDB operation `operation`.
fn dynamodb_request(operation: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nx-amz-target: DynamoDB_20120810.{operation}\r\ncontent-length: 2\r\n\r\n{{}}"
    )
    .into_bytes()
}

#[tokio::test]
async fn writes_are_refused_as_conflicting_reads_never() {
    let (proxy, received) = proxied(Faults::conflicts(1.0)).await;
    let refused = exchange(&proxy.endpoint, &dynamodb_request("UpdateItem"))
        .await
        .unwrap();
    assert_eq!(refused, replicated_write_conflict());
    let text = String::from_utf8(refused).unwrap();
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    assert!(text.contains("#ReplicatedWriteConflictException"), "{text}");
    let read = exchange(&proxy.endpoint, &dynamodb_request("GetItem"))
        .await
        .unwrap();
    assert!(read.starts_with(b"ok:"), "a read passes");
    assert_eq!(
        received.load(Ordering::SeqCst),
        1,
        "the write never went up"
    );
    assert_eq!(proxy.injected().conflicts, 1);
    assert_eq!(proxy.calls(), Calls::from([("GetItem".to_owned(), 1)]));
}

#[tokio::test]
async fn the_next_writes_are_refused_as_scripted_then_pass() {
    let (proxy, received) = proxied(Faults::default()).await;
    proxy.conflict_next_writes(2);
    for _ in 0..2 {
        let refused = exchange(&proxy.endpoint, &dynamodb_request("PutItem")).await;
        assert_eq!(refused.unwrap(), replicated_write_conflict());
    }
    let passed = exchange(&proxy.endpoint, &dynamodb_request("DeleteItem"))
        .await
        .unwrap();
    assert!(passed.starts_with(b"ok:"), "the third write passes");
    assert_eq!(received.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.injected().conflicts, 2);
}
