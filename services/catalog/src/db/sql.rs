//! A small builder for statements whose shape depends on the request
//! (filters, `IN` lists), numbering `$N` placeholders itself because
//! `QueryBuilder<Any>` would emit `?`, which PostgreSQL does not accept.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

use super::Dialect;

/// One bound value.
#[derive(Debug, Clone)]
enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

/// SQL text with its bound values, in placeholder order.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
    /// Where each placeholder sits in `text` (start, end).
    marks: Vec<(usize, usize)>,
}

impl Sql {
    /// Starts a statement.
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// Appends literal SQL.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn placeholder(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        let n = self.args.len();
        let start = self.text.len();
        self.text.push('$');
        self.text.push_str(&n.to_string());
        self.marks.push((start, self.text.len()));
        self
    }

    /// Appends a placeholder bound to an integer.
    pub fn int(&mut self, v: impl Into<Option<i64>>) -> &mut Self {
        self.placeholder(Arg::Int(v.into()))
    }

    /// Appends a placeholder bound to a text.
    pub fn text(&mut self, v: impl Into<String>) -> &mut Self {
        self.placeholder(Arg::Text(Some(v.into())))
    }

    /// Appends a placeholder bound to an optional text.
    pub fn opt_text(&mut self, v: Option<String>) -> &mut Self {
        self.placeholder(Arg::Text(v))
    }

    /// Appends a placeholder bound to an optional blob.
    pub fn blob(&mut self, v: Option<Vec<u8>>) -> &mut Self {
        self.placeholder(Arg::Blob(v))
    }

    /// Appends `$a, $b, ...` bound to `values`; `values` must not be empty.
    pub fn text_list<I, S>(&mut self, values: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.text(v);
        }
        self
    }

    /// Appends `$a, $b, ...` bound to integers; `values` must not be empty.
    pub fn int_list(&mut self, values: impl IntoIterator<Item = i64>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.int(v);
        }
        self
    }

    /// The SQL text, for logs and tests.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A query ready to run.
    pub fn query(self) -> Query<'static, Any, AnyArguments> {
        self.into_query(None)
    }

    /// A query ready to run on `dialect`, for statements with many bound
    /// values (multi-row inserts): SQLite binds `$N` by looking its name up
    /// in a list, once per value and run, which grows with the square of
    /// their number, so there the placeholders become anonymous `?`s (each
    /// is used once, in order).
    pub fn query_for(self, dialect: Dialect) -> Query<'static, Any, AnyArguments> {
        let text = self.text_for(dialect);
        self.into_query(Some(text))
    }

    /// The SQL text with the placeholders `dialect` binds fastest.
    fn text_for(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::Sqlite => {
                let mut text = String::with_capacity(self.text.len());
                let mut from = 0;
                for &(start, end) in &self.marks {
                    text.push_str(&self.text[from..start]);
                    text.push('?');
                    from = end;
                }
                text.push_str(&self.text[from..]);
                text
            }
            Dialect::Postgres => self.text.clone(),
        }
    }

    fn into_query(self, text: Option<String>) -> Query<'static, Any, AnyArguments> {
        let mut q = sqlx::query(AssertSqlSafe(text.unwrap_or(self.text)));
        for arg in self.args {
            q = match arg {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Blob(v) => q.bind(v),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT * FROM jobs WHERE state IN (");
        sql.int_list([1, 2])
            .push(") AND configuration = ")
            .text("daily");
        assert_eq!(
            sql.as_str(),
            "SELECT * FROM jobs WHERE state IN ($1, $2) AND configuration = $3"
        );
    }

    #[test]
    fn sqlite_statements_get_anonymous_placeholders_in_the_same_order() {
        let mut sql = Sql::new("INSERT INTO t (a, b) VALUES (");
        sql.int(1).push(", ").text("$2 stays").push("), (");
        sql.int(3).push(", ").text("x").push(")");
        let expected = "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)";
        assert_eq!(sql.text_for(Dialect::Sqlite), expected);
        assert_eq!(
            sql.text_for(Dialect::Postgres),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }
}
