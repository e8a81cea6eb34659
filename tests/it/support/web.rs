//! Web servers for the publish and verify tests, on 127.0.0.1 only: a real
//! one (`python3 -m http.server`) and tiny misbehaving ones. Every server
//! stops by itself: the real one when its guard drops (even on a failed
//! assertion), the fake ones after a bounded number of connections or
//! seconds.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `python3 -m http.server` serving a folder; killed on drop.
pub struct Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Server {
    /// Starts a server for `dir` on a free port and waits until it answers.
    pub fn start(dir: &Path) -> Server {
        Server::spawn(|port| {
            let mut c = Command::new("python3");
            c.args(["-m", "http.server", "--bind", "127.0.0.1"])
                .arg(port.to_string())
                .arg("--directory")
                .arg(dir);
            c
        })
    }

    /// Starts an HTTPS server for `dir` with the certificate and key given
    /// (PEM files), on a free port.
    pub fn start_tls(dir: &Path, cert: &Path, key: &Path) -> Server {
        const SCRIPT: &str = "import functools, http.server, ssl, sys
port, root, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.HTTPServer(('127.0.0.1', port), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
";
        Server::spawn(|port| {
            let mut c = Command::new("python3");
            c.arg("-c")
                .arg(SCRIPT)
                .arg(port.to_string())
                .arg(dir)
                .arg(cert)
                .arg(key);
            c
        })
    }

    fn spawn(command: impl Fn(u16) -> Command) -> Server {
        // The free port is found by binding port 0 and releasing it; another
        // process could take it in between, so a server that dies is retried.
        for _ in 0..5 {
            let port = free_port();
            let child = command(port)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3 runs");
            let mut server = Server { child, port };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = server.child.try_wait() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return server;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = server.child.kill();
        }
        panic!("the python3 web server did not start");
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sepkg` without any proxy settings from the environment, so requests to
/// 127.0.0.1 go straight to the test's server.
pub fn sepkg_direct() -> assert_cmd::Command {
    let mut cmd = super::sepkg();
    for var in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How a fake server answers each request.
#[derive(Clone)]
pub enum Behaviour {
    /// Headers announcing `announced` bytes, then only `body`, then close.
    CloseEarly { announced: u64, body: Vec<u8> },
    /// Headers, `body`, then silence for `stall` before closing.
    Stall {
        announced: u64,
        body: Vec<u8>,
        stall: Duration,
    },
    /// A 302 redirect to `location`.
    Redirect { location: String },
    /// `body` with `Content-Encoding: gzip`, whatever the request accepts
    /// (a server that compresses every response).
    Gzip { body: Vec<u8> },
}

/// A one-thread HTTP/1.1 server on 127.0.0.1 that answers up to
/// `connections` requests as `behaviour` says, and gives up after 20 s.
/// Returns its port.
pub fn fake(behaviour: Behaviour, connections: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut served = 0;
        while served < connections && Instant::now() < deadline {
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            served += 1;
            let _ = answer(stream, &behaviour);
        }
    });
    port
}

fn answer(mut stream: TcpStream, behaviour: &Behaviour) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    // Read the request head; its content does not matter.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16384 {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    match behaviour {
        Behaviour::CloseEarly { announced, body } => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
            )?;
            stream.write_all(body)?;
            stream.flush()?;
            stream.shutdown(std::net::Shutdown::Both)?;
        }
        Behaviour::Stall {
            announced,
            body,
            stall,
        } => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
            )?;
            stream.write_all(body)?;
            stream.flush()?;
            std::thread::sleep(*stall);
        }
        Behaviour::Gzip { body } => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(body)?;
            stream.flush()?;
        }
        Behaviour::Redirect { location } => {
            write!(
                stream,
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
            stream.flush()?;
        }
    }
    Ok(())
}
