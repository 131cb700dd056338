//! `tangerine user …`: accounts from the command line. Each subcommand of
//! [`UserCommand`] is one arm of [`run`]; the moderation log names the
//! command line as the actor of what they do.

use std::io::{BufRead, IsTerminal, Write};

use sea_orm::DatabaseConnection;

use crate::{
    RunError,
    config::{ConfigError, UserCommand},
    domain::{PasswordInput, PasswordRules, Role},
    services::accounts::{Accounts, OperatorError},
    services::moderation::{self, Actor, Moderation, ModerationError},
    services::passwords::PasswordHasher,
    services::recovery,
    services::throttle::{Limits, Throttle},
    store::Store,
};

pub async fn run(
    command: UserCommand,
    db: DatabaseConnection,
    rules: PasswordRules,
) -> Result<(), RunError> {
    let store = Store::through_pool(db);
    let moderation = Moderation::new(store.clone());
    let accounts = || {
        Accounts::new(
            store.clone(),
            PasswordHasher::new(1, 0),
            Throttle::new(store.clone(), Limits::OFF),
            rules,
        )
    };
    match command {
        UserCommand::Create {
            name,
            role,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let role = Role::from(role);
            let user = accounts()
                .create_account(&name, &password, role)
                .await
                .map_err(operator)?;
            println!("created {} ({role})", user.username);
        }
        UserCommand::SetPassword {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let user = accounts()
                .set_password(&name, &password)
                .await
                .map_err(operator)?;
            println!(
                "set the password of {}; their sessions ended",
                user.username
            );
        }
        UserCommand::Role { name, role } => {
            let person = moderation
                .set_role(&Actor::CommandLine, &name, role.into())
                .await
                .map_err(refused)?;
            println!("{} is {}", person.user.username, person.user.role);
        }
        UserCommand::Suspend { name, reason } => {
            let reason = moderation::reason(reason.as_deref()).map_err(refused)?;
            let person = moderation
                .suspend(&Actor::CommandLine, &name, reason)
                .await
                .map_err(refused)?;
            println!("suspended {}", person.user.username);
        }
        UserCommand::Unsuspend { name } => {
            let person = moderation
                .reinstate(&Actor::CommandLine, &name)
                .await
                .map_err(refused)?;
            println!("reinstated {}", person.user.username);
        }
        UserCommand::ResetLink {
            name,
            base_url,
            reset_token_lifetime,
        } => {
            // `Cli::invocation` refuses a missing base URL before anything is opened.
            let base_url = base_url.ok_or_else(|| {
                RunError::Refused("`user reset-link` needs --base-url".to_owned())
            })?;
            let link = recovery::reset_link_for(&store, &name, &base_url, reset_token_lifetime)
                .await
                .map_err(|e| match e {
                    recovery::ResetLinkError::NoSuchAccount(_) => RunError::Refused(e.to_string()),
                    recovery::ResetLinkError::Unexpected(e) => RunError::Other(e),
                })?;
            println!("{link}");
        }
        UserCommand::List => {
            let people = moderation.everyone().await.map_err(refused)?;
            let mut out = std::io::stdout().lock();
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_owned(), |t| {
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                })
            };
            let mut text =
                String::from("NAME\tROLE\tSTATUS\tJOINED\tLAST_ACTIVE\tPOSTS\tSESSIONS\n");
            for p in people {
                text.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    p.person.user.username,
                    p.person.user.role,
                    if p.person.suspended_at.is_some() {
                        "suspended"
                    } else {
                        "active"
                    },
                    time(Some(p.person.created_at)),
                    time(p.last_active),
                    p.posts,
                    p.sessions
                ));
            }
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| RunError::Refused(format!("cannot write the list: {e}")))?;
        }
    }
    Ok(())
}

fn operator(e: OperatorError) -> RunError {
    match e {
        OperatorError::Refused(m) => RunError::Refused(m),
        OperatorError::NoSuchUser(name) => {
            RunError::Refused(format!("there is nobody named {name}"))
        }
        OperatorError::Unexpected(e) => RunError::Other(e),
    }
}

fn refused(e: ModerationError) -> RunError {
    match e {
        ModerationError::Unexpected(e) => RunError::Other(e),
        ModerationError::NotFound(_) => {
            RunError::Refused("there is nobody by that name".to_owned())
        }
        other => RunError::Refused(other.to_string()),
    }
}

/// The password: one line of standard input with `--password-stdin`
/// (its line ending not part of it); otherwise asked twice on the terminal
/// without echo, and refused when standard input is not a terminal.
fn read_password(from_stdin: bool) -> Result<PasswordInput, RunError> {
    let stdin = std::io::stdin();
    if from_stdin {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| RunError::Refused(format!("cannot read standard input: {e}")))?;
        let line = line
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or(&line);
        return Ok(PasswordInput::new(line));
    }
    if !stdin.is_terminal() {
        return Err(ConfigError(
            "standard input is not a terminal: pass --password-stdin and write the password to it"
                .to_owned(),
        )
        .into());
    }
    let first = prompt("Password: ")?;
    let second = prompt("Password again: ")?;
    if first != second {
        return Err(RunError::Refused("the two passwords differ".to_owned()));
    }
    Ok(PasswordInput::new(first))
}

/// Asks on the terminal with echo off, restoring it afterwards.
fn prompt(question: &str) -> Result<String, RunError> {
    let failed = |e: std::io::Error| RunError::Refused(format!("cannot read the password: {e}"));
    eprint!("{question}");
    std::io::stderr().flush().map_err(failed)?;
    let _echo = EchoOff::new();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(failed)?;
    drop(_echo);
    eprintln!();
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// The terminal's echo turned off for as long as it lives.
struct EchoOff {
    #[cfg(target_os = "linux")]
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new() -> Self {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: tcgetattr/tcsetattr on standard input with a termios
            // struct owned here; failures leave the terminal as it was.
            unsafe {
                let mut term: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(libc::STDIN_FILENO, &mut term) != 0 {
                    return Self { saved: None };
                }
                let saved = term;
                term.c_lflag &= !libc::ECHO;
                term.c_lflag |= libc::ECHONL;
                if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &term) != 0 {
                    return Self { saved: None };
                }
                Self { saved: Some(saved) }
            }
        }
        #[cfg(not(target_os = "linux"))]
        Self {}
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(saved) = &self.saved {
            // SAFETY: restores the attributes read in `new`.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
        }
    }
}
