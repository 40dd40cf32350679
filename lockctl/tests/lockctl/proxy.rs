//! A TCP proxy in front of the stack that breaks chosen connections, to
//! show that the client's retries are safe: the n-th connection can lose
//! its answer after the request reached the service, or get a 502 without
//! reaching it. It records every request head it forwards.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What happens to one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forwarded both ways.
    None,
    /// The request is forwarded and answered, but the answer is dropped and
    /// the connection closed (a timeout or a reset, as the client sees it).
    LoseAnswer,
    /// Answered `502` by the proxy; nothing reaches the service.
    BadGateway,
}

/// A running proxy.
pub struct Proxy {
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    /// Proxies to `upstream` (`http://host:port`); connection `i` suffers
    /// `faults[i]` (later ones none).
    pub async fn start(upstream: &str, faults: Vec<Fault>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            for index in 0.. {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let fault = faults.get(index).copied().unwrap_or(Fault::None);
                tokio::spawn(serve(client, upstream.clone(), fault, seen.clone()));
            }
        });
        Self { url, requests }
    }

    /// The head (request line and headers, lower-cased) of every request
    /// that reached the proxy, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: String,
    fault: Fault,
    seen: Arc<Mutex<Vec<String>>>,
) {
    if fault == Fault::BadGateway {
        let mut buffer = vec![0; 65536];
        if let Ok(n) = client.read(&mut buffer).await {
            seen.lock().unwrap().push(head(&buffer[..n]));
        }
        let body = r#"{"message":"Bad Gateway","code":"BAD_GATEWAY"}"#;
        let answer = format!(
            "HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(answer.as_bytes()).await;
        return;
    }
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let recorder = seen.clone();
    let to_server = tokio::spawn(async move {
        let mut buffer = vec![0; 65536];
        while let Ok(n) = client_read.read(&mut buffer).await {
            if n == 0 || server_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
            if buffer[..n].windows(5).any(|w| w == b"HTTP/") {
                recorder.lock().unwrap().push(head(&buffer[..n]));
            }
        }
    });
    let mut buffer = vec![0; 65536];
    while let Ok(n) = server_read.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        if fault == Fault::LoseAnswer {
            // The service has answered: the request landed. Drop it all.
            break;
        }
        if client_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    to_server.abort();
}

/// The request line and headers of a request, lower-cased.
fn head(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}
