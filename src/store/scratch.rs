//! A database of a test's own: a SQLite file in the temporary folder, or a
//! PostgreSQL database of its own on the server of `TEST_DATABASE_URL`;
//! removed (the file with its WAL and shared memory, or the database) when
//! dropped. Compiled for the unit tests and, through the `test-routes`
//! feature, for the black-box tests; one helper for both.

use std::path::PathBuf;

use sea_orm::ConnectionTrait;
use uuid::Uuid;

pub struct ScratchDatabase {
    /// The database's URL, as Tangerine takes it.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// The server tests make their PostgreSQL databases on, if one is given.
fn test_server() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

impl ScratchDatabase {
    /// On PostgreSQL when `TEST_DATABASE_URL` is set, else a SQLite file.
    pub async fn fresh() -> Self {
        match test_server() {
            Some(_) => Self::postgres().await,
            None => Self::sqlite("test"),
        }
    }

    /// A SQLite file (not created yet: Tangerine creates it), named after `purpose`.
    pub fn sqlite(purpose: &str) -> Self {
        let path = std::env::temp_dir().join(format!("tangerine-{purpose}-{}.db", Uuid::new_v4()));
        Self {
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::File(path),
        }
    }

    /// A PostgreSQL database. Panics without `TEST_DATABASE_URL`: the tests
    /// that need PostgreSQL are `#[ignore]`d and run only where it is set.
    pub async fn postgres() -> Self {
        let admin_url = test_server().expect("this test needs PostgreSQL: set TEST_DATABASE_URL");
        let name = format!("tangerine_test_{}", Uuid::new_v4().simple());
        let admin = super::connect(&admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create a test database");
        admin.close().await.ok();
        Self {
            url: replace_database(&admin_url, &name),
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::Postgres { .. })
    }

    /// The SQLite file, when this is one.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match &self.cleanup {
            Cleanup::File(path) => Some(path),
            Cleanup::Postgres { .. } => None,
        }
    }
}

/// `url` naming database `name` instead of its own.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].rfind('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // The test's runtime may be ending; drop from a runtime of our own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    rt.block_on(async {
                        let admin = super::connect(&admin_url).await.ok()?;
                        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        admin.execute_unprepared(&drop).await.ok()?;
                        admin.close().await.ok()
                    })
                })
                .join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn a_test_database_replaces_the_servers_own_name() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            replace_database("postgres://u@h/db?sslmode=disable", "t2"),
            "postgres://u@h/t2?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://u@h", "t3"),
            "postgres://u@h/t3"
        );
    }
}
