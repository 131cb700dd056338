//! Mail leaving Tangerine: over SMTP (lettre), or, with no SMTP server
//! configured, as `.eml` files in a folder, like Django's file-based backend,
//! so that a fresh install can reset a password end to end.
//!
//! Sending never holds up a request: [`Mailer::send`] puts the message on a
//! bounded queue and returns at once; one background task delivers, trying
//! each message a few times with growing pauses. A message that cannot be
//! queued (the queue is full) or delivered is logged and dropped: the answer
//! a person got does not depend on it. Logs name the message's subject and
//! file or server, never its recipient's address nor the link inside it.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Body, Mailbox,
        header::{ContentTransferEncoding, ContentType},
    },
    transport::smtp::authentication::Credentials,
};
use tokio::sync::mpsc;

use crate::config::{SmtpSecurity, SmtpServer};

/// Messages waiting to be delivered at most; beyond, new ones are dropped
/// (and logged) rather than making a request wait.
const QUEUE: usize = 1024;
/// Deliveries tried per message, and the pause before each retry.
const RETRY_PAUSES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
];
/// How long one SMTP exchange may take before it counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// One message: plain text, to one address.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may hold a one-time link, and the address is personal.
        write!(f, "Mail({:?})", self.subject)
    }
}

/// Where mail goes.
#[derive(Clone)]
enum Transport {
    Smtp {
        transport: Arc<AsyncSmtpTransport<Tokio1Executor>>,
        /// `host:port`, for the log.
        server: String,
    },
    Files(PathBuf),
}

/// The handle requests send mail through.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    queue: mpsc::Sender<Mail>,
}

/// How to reach the SMTP server, or where to write files.
pub enum Delivery<'a> {
    Smtp(&'a SmtpServer),
    Files(&'a Path),
}

impl Mailer {
    /// A mailer and its background task, which runs until every handle is gone.
    pub fn start(from: Mailbox, delivery: Delivery<'_>) -> anyhow::Result<Self> {
        let transport = match delivery {
            Delivery::Smtp(server) => Transport::Smtp {
                transport: Arc::new(smtp_transport(server)?),
                server: format!("{}:{}", server.host, server.port),
            },
            Delivery::Files(dir) => Transport::Files(dir.to_owned()),
        };
        let (queue, receiver) = mpsc::channel(QUEUE);
        let from_task = from.clone();
        tokio::spawn(deliver_all(receiver, transport, from_task));
        Ok(Self { from, queue })
    }

    /// Queues `mail` for delivery and returns at once.
    pub fn send(&self, mail: Mail) {
        match self.queue.try_send(mail) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(mail)) => {
                tracing::warn!(subject = %mail.subject, "mail queue full: message dropped");
            }
            Err(mpsc::error::TrySendError::Closed(mail)) => {
                tracing::warn!(subject = %mail.subject, "mail queue closed: message dropped");
            }
        }
    }

    /// The sender of every message.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }
}

fn smtp_transport(server: &SmtpServer) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    type T = AsyncSmtpTransport<Tokio1Executor>;
    let builder = match server.security {
        SmtpSecurity::Tls => T::relay(&server.host).context("Failed to set up TLS for SMTP")?,
        SmtpSecurity::StartTls => {
            T::starttls_relay(&server.host).context("Failed to set up STARTTLS for SMTP")?
        }
        SmtpSecurity::Plain => T::builder_dangerous(&server.host),
    };
    let mut builder = builder.port(server.port).timeout(Some(SMTP_TIMEOUT));
    if let Some((user, password)) = &server.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

async fn deliver_all(mut receiver: mpsc::Receiver<Mail>, transport: Transport, from: Mailbox) {
    while let Some(mail) = receiver.recv().await {
        let message = match build(&from, &mail) {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(subject = %mail.subject, "mail not sent: {}", crate::telemetry::one_line(e.as_ref()));
                continue;
            }
        };
        // Retries of one message wait in a task of their own, so that one
        // slow or failing message does not hold up the rest.
        let transport = transport.clone();
        tokio::spawn(async move {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match deliver(&transport, &message).await {
                    Ok(place) => {
                        tracing::info!(subject = %mail.subject, "mail {place}");
                        return;
                    }
                    Err(e) => {
                        let reason = crate::telemetry::one_line(e.as_ref());
                        match RETRY_PAUSES.get(attempt - 1) {
                            Some(pause) => {
                                tracing::warn!(subject = %mail.subject, attempt, "mail not delivered, will retry in {}s: {reason}", pause.as_secs());
                                tokio::time::sleep(*pause).await;
                            }
                            None => {
                                tracing::error!(subject = %mail.subject, attempt, "mail not delivered, giving up: {reason}");
                                return;
                            }
                        }
                    }
                }
            }
        });
    }
}

fn build(from: &Mailbox, mail: &Mail) -> anyhow::Result<Message> {
    let to: Mailbox = mail
        .to
        .parse()
        .context("Failed to read the recipient's address")?;
    // Plain 7-bit text where it can be (ASCII, lines under 998 bytes), so
    // that links stay whole on one line for people and scripts alike;
    // quoted-printable otherwise.
    let body = seven_bit(&mail.body).unwrap_or_else(|| Body::new(mail.body.clone()));
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .context("Failed to build a message")
}

/// `text` as a 7-bit body with CRLF line ends, if it can be one: ASCII
/// without NUL or bare CR, each line at most 998 bytes (RFC 5322).
fn seven_bit(text: &str) -> Option<Body> {
    let fits = text.is_ascii()
        && !text.contains('\0')
        && !text.contains('\r')
        && text.lines().all(|line| line.len() <= 998);
    fits.then(|| {
        let crlf = text.replace('\n', "\r\n");
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    })
}

/// Delivers `message`; says where it went.
async fn deliver(transport: &Transport, message: &Message) -> anyhow::Result<String> {
    match transport {
        Transport::Smtp { transport, server } => {
            transport
                .send(message.clone())
                .await
                .with_context(|| format!("Failed to send mail through {server}"))?;
            Ok(format!("sent through {server}"))
        }
        Transport::Files(dir) => {
            let path = write_eml(dir, message).await?;
            Ok(format!("written to {}", path.display()))
        }
    }
}

/// Writes `message` as `<dir>/<time>-<random>.eml`: a new file that appears
/// whole (written aside, then renamed), named so that files sort by time.
async fn write_eml(dir: &Path, message: &Message) -> anyhow::Result<PathBuf> {
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("Failed to create the mail folder {}", dir.display()))?;
    let name = format!(
        "{}-{}.eml",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        uuid::Uuid::new_v4().simple()
    );
    let path = dir.join(&name);
    let partial = dir.join(format!(".{name}.part"));
    tokio::fs::write(&partial, message.formatted())
        .await
        .with_context(|| format!("Failed to write {}", partial.display()))?;
    tokio::fs::rename(&partial, &path)
        .await
        .with_context(|| format!("Failed to write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_message_is_written_as_an_eml_file_with_its_headers_and_body() {
        let dir = std::env::temp_dir().join(format!("tangerine-mail-{}", uuid::Uuid::new_v4()));
        let from: Mailbox = "Tangerine <board@example.com>".parse().unwrap();
        let mail = Mail {
            to: "alice@example.com".into(),
            subject: "Hello".into(),
            body: "Line one\nhttps://board.example/password/reset/abc".into(),
        };
        let message = build(&from, &mail).unwrap();
        let path = write_eml(&dir, &message).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("To: alice@example.com"), "{text}");
        assert!(text.contains("Subject: Hello"), "{text}");
        assert!(
            text.contains("https://board.example/password/reset/abc"),
            "{text}"
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no partial file left"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_mail_in_debug_shows_its_subject_only() {
        let mail = Mail {
            to: "alice@example.com".into(),
            subject: "Reset".into(),
            body: "secret link".into(),
        };
        assert_eq!(format!("{mail:?}"), "Mail(\"Reset\")");
    }
}
