//! Connections under abuse: deadlines for silent, half-sent, trickling and
//! idle connections, and the cap on open connections under a small
//! open-file limit.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use reqwest::StatusCode;

use crate::helpers::*;

/// Short deadlines, so that the tests of their behaviour stay quick.
const SHORT: &[&str] = &[
    "--idle-timeout",
    "2s",
    "--header-timeout",
    "1s",
    "--body-timeout",
    "1s",
];

fn connect(address: &str) -> TcpStream {
    let stream = TcpStream::connect(address.trim_start_matches("http://")).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection (or resets it); returns
/// what it sent and how long after `since` it closed.
fn until_closed(mut stream: TcpStream, since: Instant) -> (String, Duration) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), since.elapsed())
}

/// Runs `f` on a thread of its own, so that blocking reads of several
/// connections wait side by side.
fn on_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(f)
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(SHORT).await;
    let address = app.address.clone();
    let (_, after) = tokio::task::spawn_blocking(move || {
        let stream = connect(&address);
        until_closed(stream, Instant::now())
    })
    .await
    .unwrap();
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_secs(4),
        "closed after {after:?}"
    );
}

#[tokio::test]
async fn half_a_request_line_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(SHORT).await;
    let address = app.address.clone();
    let (_, after) = tokio::task::spawn_blocking(move || {
        let mut stream = connect(&address);
        stream.write_all(b"GET /heal").unwrap();
        until_closed(stream, Instant::now())
    })
    .await
    .unwrap();
    assert!(
        after < Duration::from_millis(1900),
        "closed after {after:?}"
    );
}

#[tokio::test]
async fn headers_trickling_in_are_closed_after_the_header_timeout_from_their_first_byte() {
    let app = spawn_app_with(SHORT).await;
    let address = app.address.clone();
    let (answer, after) = tokio::task::spawn_blocking(move || {
        let mut stream = connect(&address);
        let reader = stream.try_clone().unwrap();
        let started = Instant::now();
        let closed = on_thread(move || until_closed(reader, started));
        // One byte every 100 ms: activity never stops, the request never ends.
        for byte in
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        closed.join().unwrap()
    })
    .await
    .unwrap();
    assert!(
        after < Duration::from_millis(1900),
        "closed after {after:?}"
    );
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes() {
    let app = spawn_app_with(SHORT).await;
    let address = app.address.clone();
    let (answer, after) = tokio::task::spawn_blocking(move || {
        let mut stream = connect(&address);
        stream
            .write_all(
                b"POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                  Content-Length: 100\r\n\r\n{\"username\": ",
            )
            .unwrap();
        until_closed(stream, Instant::now())
    })
    .await
    .unwrap();
    assert!(
        after < Duration::from_millis(2900),
        "closed after {after:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\""), "the API's shape: {answer}");
}

#[tokio::test]
async fn a_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(SHORT).await;
    let address = app.address.clone();
    let (answer, after) = tokio::task::spawn_blocking(move || {
        let mut stream = connect(&address);
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        until_closed(stream, Instant::now())
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_secs(4),
        "closed after {after:?}"
    );
}

/// Each answer starts a new idle wait, measured from that answer: a
/// connection used again before its idle timeout is not closed on the
/// deadline of its earlier wait.
#[tokio::test]
async fn each_request_on_a_kept_alive_connection_restarts_its_idle_timeout() {
    let app = spawn_app_with(SHORT).await;
    let address = app.address.clone();
    let (answers, after) = tokio::task::spawn_blocking(move || {
        let mut stream = connect(&address);
        let mut answers = String::new();
        let mut buf = [0u8; 4096];
        for _ in 0..2 {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let n = stream.read(&mut buf).unwrap();
            answers.push_str(&String::from_utf8_lossy(&buf[..n]));
            // Well within the 2 s idle timeout, but long enough that the
            // first wait's deadline passes during the second's.
            std::thread::sleep(Duration::from_millis(1200));
        }
        let last_answer = Instant::now() - Duration::from_millis(1200);
        let (rest, after) = until_closed(stream, last_answer);
        answers.push_str(&rest);
        (answers, after)
    })
    .await
    .unwrap();
    assert_eq!(answers.matches("HTTP/1.1 200").count(), 2, "{answers}");
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_secs(4),
        "closed {after:?} after the last answer"
    );
}

#[tokio::test]
async fn a_request_sent_in_pieces_within_the_deadlines_is_answered() {
    let app = spawn_app_with(SHORT).await;
    let address = app.address.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = connect(&address);
        // Idle for most of the idle timeout, then a request in three pieces.
        std::thread::sleep(Duration::from_millis(1200));
        for piece in [&b"GET /heal"[..], b"thz HTTP/1.1\r\nHost: x\r\n", b"\r\n"] {
            stream.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        }
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn headers_beyond_64_kib_get_431_and_are_not_held() {
    let app = spawn_app().await;
    let address = app.address.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = connect(&address);
        let mut request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
        for i in 0..1000 {
            request.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(100)).as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        // The server may close before all of it is sent.
        let _ = stream.write_all(&request);
        until_closed(stream, Instant::now()).0
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

/// With the default deadlines: headers within 10 s of their first byte,
/// everything else within 30 s.
#[tokio::test]
async fn with_the_default_deadlines_abusive_connections_close_within_10_or_30_seconds() {
    let app = spawn_app().await;
    let cases: [(&str, &[u8], Duration); 4] = [
        ("silent", b"", Duration::from_secs(31)),
        ("half a request line", b"GET / HT", Duration::from_secs(11)),
        (
            "partial headers",
            b"GET / HTTP/1.1\r\nHost: x\r\nAccept: te",
            Duration::from_secs(11),
        ),
        (
            "partial body",
            b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 50\r\n\r\nusername=",
            Duration::from_secs(31),
        ),
    ];
    let waits: Vec<_> = cases
        .into_iter()
        .map(|(name, sent, within)| {
            let address = app.address.clone();
            let waited = on_thread(move || {
                let mut stream = connect(&address);
                stream.write_all(sent).unwrap();
                until_closed(stream, Instant::now()).1
            });
            (name, within, waited)
        })
        .collect();
    for (name, within, waited) in waits {
        let after = tokio::task::spawn_blocking(move || waited.join().unwrap())
            .await
            .unwrap();
        assert!(after < within, "{name}: closed after {after:?}");
    }
}

/// The test holds more sockets than the server may: its own soft limit
/// goes up to its hard limit if need be.
fn allow_this_process(files: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < files {
            assert!(
                limit.rlim_max >= files,
                "the test needs {files} open files; the hard limit is {}",
                limit.rlim_max
            );
            limit.rlim_cur = files;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
}

/// 1,100 silent connections against a server limited to 1,024 open files:
/// a normal request is still answered within 5 s, and the server idles
/// rather than spinning on `accept`.
async fn silent_crowd(args: &[&str], must_answer: bool) {
    allow_this_process(4096);
    let database = TestDatabase::fresh().await;
    let server = serve_binary(&database.url, args, Some(1024));
    let address = server.address.clone();
    let crowd = tokio::task::spawn_blocking(move || {
        (0..1100)
            .map(|_| TcpStream::connect(address.trim_start_matches("http://")))
            .filter_map(Result::ok)
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(crowd.len(), 1100, "the kernel queued every connection");
    // Let the server catch up with the crowd.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let answer = bare_client()
        .get(format!("{}/healthz", server.address))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    if must_answer {
        let answer = answer.expect("an answer within 5 s");
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    let pid = server.child.id();
    let before = cpu_time(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = cpu_time(pid) - before;
    assert!(
        used < Duration::from_millis(300),
        "the server used {used:?} of CPU in 3 s with 1,100 silent connections open"
    );
    drop(crowd);
}

#[tokio::test]
async fn under_1100_silent_connections_a_request_is_answered_and_the_server_does_not_spin() {
    silent_crowd(&[], true).await;
}

/// Without the cap the process runs out of descriptors: it backs off
/// instead of spinning, and makes room by closing the idlest connection.
#[tokio::test]
async fn out_of_file_descriptors_the_accept_loop_backs_off() {
    silent_crowd(&["--max-connections", "0"], false).await;
}
