//! A TCP proxy between a function and the DynamoDB engine that counts the
//! requests it forwards, by operation (`X-Amz-Target`): what a function
//! costs in DynamoDB calls, seen from outside the SDK.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Calls by operation name (`PutItem`, `UpdateItem`, ...).
pub type Calls = BTreeMap<String, u64>;

/// A running counting proxy.
#[derive(Clone)]
pub struct CountingProxy {
    /// `http://127.0.0.1:PORT`, to give the function as its endpoint.
    pub endpoint: String,
    calls: Arc<Mutex<Calls>>,
}

impl CountingProxy {
    /// Proxies to the engine at `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let calls = Arc::new(Mutex::new(Calls::new()));
        let counted = calls.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                tokio::spawn(relay(client, upstream.clone(), counted.clone()));
            }
        });
        Self { endpoint, calls }
    }

    /// Every call counted so far.
    pub fn calls(&self) -> Calls {
        self.calls.lock().expect("not poisoned").clone()
    }

    /// The calls made since `before` (a [`Self::calls`] snapshot).
    pub fn since(&self, before: &Calls) -> Calls {
        let mut now = self.calls();
        for (operation, count) in before {
            if let Some(total) = now.get_mut(operation) {
                *total -= count;
            }
        }
        now.retain(|_, count| *count > 0);
        now
    }
}

/// The total of `calls`.
pub fn total(calls: &Calls) -> u64 {
    calls.values().sum()
}

/// `PutItem + UpdateItem` style text for a table cell.
pub fn describe(calls: &Calls) -> String {
    if calls.is_empty() {
        return "none".into();
    }
    calls
        .iter()
        .map(|(op, n)| {
            if *n == 1 {
                op.clone()
            } else {
                format!("{n}×{op}")
            }
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

async fn relay(client: TcpStream, upstream: String, calls: Arc<Mutex<Calls>>) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream_leg = tokio::spawn(async move {
        let mut buffer = vec![0; 65536];
        while let Ok(n) = client_read.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            count_targets(&buffer[..n], &calls);
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buffer = vec![0; 65536];
    while let Ok(n) = server_read.read(&mut buffer).await {
        if n == 0 || client_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    upstream_leg.abort();
}

/// Counts each `x-amz-target: DynamoDB_20120810.<Operation>` header in a
/// chunk of request bytes (a header line never straddles two reads of a
/// request this small, which the SDK writes in one piece).
fn count_targets(chunk: &[u8], calls: &Mutex<Calls>) {
    let text = String::from_utf8_lossy(chunk);
    for line in text.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("x-amz-target") {
            let operation = value.trim().rsplit('.').next().unwrap_or_default();
            *calls
                .lock()
                .expect("not poisoned")
                .entry(operation.to_owned())
                .or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_counted_by_operation() {
        let calls = Mutex::new(Calls::new());
        let request = b"POST / HTTP/1.1\r\nX-Amz-Target: DynamoDB_20120810.UpdateItem\r\ncontent-length: 2\r\n\r\n{}";
        count_targets(request, &calls);
        count_targets(
            b"POST / HTTP/1.1\r\nx-amz-target: DynamoDB_20120810.GetItem\r\n\r\n",
            &calls,
        );
        count_targets(request, &calls);
        let calls = calls.into_inner().unwrap();
        assert_eq!(describe(&calls), "GetItem + 2×UpdateItem");
        assert_eq!(total(&calls), 3);
    }
}
