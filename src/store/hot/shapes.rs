//! Statements built once.

use std::sync::{Arc, Mutex};

use sea_orm::Statement;

/// The SQL of statements whose text depends only on a small key (their
/// shape), built by SeaORM on first use and kept; the values are bound anew
/// each time: building a statement costs more than SQLite takes to run the
/// reads of a page view.
pub struct StatementTexts<K> {
    built: Mutex<Vec<(K, Arc<str>)>>,
}

impl<K: PartialEq> StatementTexts<K> {
    pub const fn new() -> Self {
        Self {
            built: Mutex::new(Vec::new()),
        }
    }

    /// The SQL of shape `key`, from `build` the first time. Few shapes are
    /// ever built (a handful of page sizes), so a list does.
    pub fn sql(&self, key: K, build: impl FnOnce() -> Statement) -> Arc<str> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, sql)) = built.iter().find(|(k, _)| *k == key) {
            return sql.clone();
        }
        let sql: Arc<str> = build().sql.into();
        built.push((key, sql.clone()));
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shape_is_built_once_and_each_shape_has_its_own_sql() {
        let shapes = StatementTexts::new();
        let builds = std::cell::Cell::new(0);
        let build = |limit: u64| {
            builds.set(builds.get() + 1);
            Statement::from_string(sea_orm::DbBackend::Sqlite, format!("SELECT {limit}"))
        };
        assert_eq!(&*shapes.sql(21, || build(21)), "SELECT 21");
        assert_eq!(&*shapes.sql(21, || build(99)), "SELECT 21");
        assert_eq!(&*shapes.sql(51, || build(51)), "SELECT 51");
        assert_eq!(builds.get(), 2);
    }
}
