//! One SQL surface over both backends: a [`Conn`] runs the same statement text on SQLite or on
//! PostgreSQL, with [`Value`] parameters and rows read through one [`Row`] accessor, so the
//! modules that own records (ledger, register, run history, web page) write their SQL once.
//!
//! The dialect is the common part of both: `?1`-style placeholders (rewritten to `$1` for
//! PostgreSQL), `INSERT … ON CONFLICT … DO NOTHING` instead of `INSERT OR IGNORE`,
//! `RETURNING id` instead of `last_insert_rowid()`, no SQLite-only functions. Integers are
//! 64-bit on both (`BIGINT` in the PostgreSQL schema) and flags are 0/1 integers, so a row reads
//! the same whichever database it came from.

use std::cell::{RefCell, RefMut};
use std::error::Error as StdError;
use std::fmt;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A parameter or column value, the same five kinds SQLite has.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A statement failed, or a row did not hold what its reader expected.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("truy vấn không trả về dòng nào")]
    NoRows,
    #[error("cột {0}: {1}")]
    Conversion(usize, Box<dyn StdError + Send + Sync>),
}

impl DbError {
    /// A column whose text is not what its reader writes (a time, a period key).
    pub fn conversion(idx: usize, e: impl StdError + Send + Sync + 'static) -> DbError {
        DbError::Conversion(idx, Box::new(e))
    }
}

/// The server's own message (with its detail), which `postgres::Error`'s Display leaves out.
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {detail}", db.message()),
            None => db.message().to_owned(),
        },
        // The driver's own message ("error performing TLS handshake") and its causes, so the
        // reason (e.g. an untrusted certificate) is not lost.
        None => {
            let mut text = e.to_string();
            let mut source = StdError::source(e);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// `.optional()` on a single-row query: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExtension<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A Rust value that can be a statement parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}
macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                // Every integer the code stores fits in i64 (counts, numbers, years, ids).
                Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u16, u8, u64, usize);

/// A statement's parameters: `params![a, b]`, an array `[a, b]`, or `[]`.
pub trait Params {
    fn values(&self) -> Vec<Value>;
}

impl Params for &[&dyn ToValue] {
    fn values(&self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}
impl Params for [&dyn ToValue; 0] {
    fn values(&self) -> Vec<Value> {
        Vec::new()
    }
}
impl Params for Vec<Value> {
    fn values(&self) -> Vec<Value> {
        self.clone()
    }
}
macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: ToValue> Params for [T; $n] {
            fn values(&self) -> Vec<Value> {
                self.iter().map(|v| v.to_value()).collect()
            }
        }
        impl<T: ToValue> Params for &[T; $n] {
            fn values(&self) -> Vec<Value> {
                self.iter().map(|v| v.to_value()).collect()
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);

/// `params![a, b, c]`: parameters of mixed types, as `?1, ?2, ?3`.
macro_rules! params {
    () => { &[] as &[&dyn $crate::state::ToValue] };
    ($($v:expr),+ $(,)?) => { &[$(&$v as &dyn $crate::state::ToValue),+] as &[&dyn $crate::state::ToValue] };
}
pub(crate) use params;

/// A Rust value a column can be read as.
pub trait FromValue: Sized {
    fn from_value(idx: usize, value: &Value) -> DbResult<Self>;
}

#[derive(Debug, thiserror::Error)]
#[error("không đọc được giá trị {found} thành {wanted}")]
pub struct WrongType {
    found: String,
    wanted: &'static str,
}

fn wrong<T>(idx: usize, value: &Value, wanted: &'static str) -> DbResult<T> {
    Err(DbError::conversion(
        idx,
        WrongType {
            found: format!("{value:?}"),
            wanted,
        },
    ))
}

impl FromValue for Value {
    fn from_value(_: usize, value: &Value) -> DbResult<Self> {
        Ok(value.clone())
    }
}
impl FromValue for String {
    fn from_value(idx: usize, value: &Value) -> DbResult<Self> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => wrong(idx, other, "văn bản"),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(idx: usize, value: &Value) -> DbResult<Self> {
        match value {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => wrong(idx, other, "dãy byte"),
        }
    }
}
impl FromValue for bool {
    fn from_value(idx: usize, value: &Value) -> DbResult<Self> {
        match value {
            Value::Integer(i) => Ok(*i != 0),
            other => wrong(idx, other, "đúng/sai"),
        }
    }
}
impl FromValue for f64 {
    fn from_value(idx: usize, value: &Value) -> DbResult<Self> {
        match value {
            Value::Real(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            other => wrong(idx, other, "số thực"),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(idx: usize, value: &Value) -> DbResult<Self> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(idx, other).map(Some),
        }
    }
}
macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(idx: usize, value: &Value) -> DbResult<Self> {
                match value {
                    Value::Integer(i) => <$t>::try_from(*i).or_else(|_| wrong(idx, value, stringify!($t))),
                    other => wrong(idx, other, stringify!($t)),
                }
            }
        }
    )*};
}
int_from_value!(i64, i32, u32, u16, u8, u64, usize);

/// Column position, as in rusqlite (`row.get::<_, String>(1)`).
pub trait RowIndex {
    fn index(&self) -> usize;
}
impl RowIndex for usize {
    fn index(&self) -> usize {
        *self
    }
}

/// One result row, read into memory: the same whichever database it came from.
#[derive(Debug, Clone)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    pub fn get<I: RowIndex, T: FromValue>(&self, idx: I) -> DbResult<T> {
        let idx = idx.index();
        match self.values.get(idx) {
            Some(v) => T::from_value(idx, v),
            None => Err(DbError::conversion(
                idx,
                WrongType {
                    found: format!("cột {idx} không có"),
                    wanted: "cột",
                },
            )),
        }
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }
}

/// Where statements go: a SQLite connection (inside a transaction or not), a PostgreSQL client
/// (autocommit) or a PostgreSQL transaction.
pub struct Conn<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    Sqlite(&'a rusqlite::Connection),
    Pg(RefCell<PgHandle<'a>>),
}

pub(crate) enum PgHandle<'a> {
    Client(RefMut<'a, postgres::Client>),
    Tx(postgres::Transaction<'a>),
}

impl fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Sqlite(_) => f.write_str("Conn(sqlite)"),
            Inner::Pg(_) => f.write_str("Conn(postgres)"),
        }
    }
}

/// Which database a statement goes to, for the few places whose SQL must differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl<'a> Conn<'a> {
    pub(crate) fn sqlite(conn: &'a rusqlite::Connection) -> Conn<'a> {
        Conn {
            inner: Inner::Sqlite(conn),
        }
    }

    pub(crate) fn pg(handle: PgHandle<'a>) -> Conn<'a> {
        Conn {
            inner: Inner::Pg(RefCell::new(handle)),
        }
    }

    pub(crate) fn into_pg(self) -> Option<PgHandle<'a>> {
        match self.inner {
            Inner::Pg(h) => Some(h.into_inner()),
            Inner::Sqlite(_) => None,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Sqlite(_) => Dialect::Sqlite,
            Inner::Pg(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection under this handle, for SQLite-only maintenance (pragmas).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Pg(_) => None,
        }
    }

    /// Runs one statement; returns the rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> DbResult<usize> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(values.iter().map(sqlite_value)))?)
            }
            Inner::Pg(h) => {
                let sql = pg_sql(sql);
                let refs = pg_params(&values);
                let n = match &mut *h.borrow_mut() {
                    PgHandle::Client(c) => c.execute(sql.as_str(), &refs)?,
                    PgHandle::Tx(t) => t.execute(sql.as_str(), &refs)?,
                };
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// Runs several statements without parameters (schema steps).
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Pg(h) => {
                match &mut *h.borrow_mut() {
                    PgHandle::Client(c) => c.batch_execute(sql)?,
                    PgHandle::Tx(t) => t.batch_execute(sql)?,
                }
                Ok(())
            }
        }
    }

    /// Every row of a query, read into memory.
    pub fn rows(&self, sql: &str, params: impl Params) -> DbResult<Vec<Row>> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let columns = st.column_count();
                let mut rows =
                    st.query(rusqlite::params_from_iter(values.iter().map(sqlite_value)))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut values = Vec::with_capacity(columns);
                    for i in 0..columns {
                        values.push(from_sqlite(r.get_ref(i)?));
                    }
                    out.push(Row { values });
                }
                Ok(out)
            }
            Inner::Pg(h) => {
                let sql = pg_sql(sql);
                let refs = pg_params(&values);
                let rows = match &mut *h.borrow_mut() {
                    PgHandle::Client(c) => c.query(sql.as_str(), &refs)?,
                    PgHandle::Tx(t) => t.query(sql.as_str(), &refs)?,
                };
                rows.iter().map(from_pg_row).collect()
            }
        }
    }

    /// The first row of a query, mapped; [`DbError::NoRows`] when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<T> {
        let rows = self.rows(sql, params)?;
        match rows.first() {
            Some(r) => f(r),
            None => Err(DbError::NoRows),
        }
    }

    /// Every row of a query, mapped.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        self.rows(sql, params)?.iter().map(f).collect()
    }

    /// A statement to run with [`Statement::query_map`], as with rusqlite's `prepare`.
    pub fn prepare<'c>(&'c self, sql: &str) -> DbResult<Statement<'c, 'a>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_owned(),
        })
    }
}

/// A statement text bound to a connection (nothing is prepared until it runs).
pub struct Statement<'c, 'a> {
    conn: &'c Conn<'a>,
    sql: String,
}

impl Statement<'_, '_> {
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        mut f: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<std::vec::IntoIter<DbResult<T>>> {
        let rows = self.conn.rows(&self.sql, params)?;
        Ok(rows.iter().map(&mut f).collect::<Vec<_>>().into_iter())
    }

    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<T> {
        self.conn.query_row(&self.sql, params, f)
    }

    pub fn execute(&mut self, params: impl Params) -> DbResult<usize> {
        self.conn.execute(&self.sql, params)
    }

    pub fn exists(&mut self, params: impl Params) -> DbResult<bool> {
        Ok(!self.conn.rows(&self.sql, params)?.is_empty())
    }
}

fn sqlite_value(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Integer(i) => rusqlite::types::Value::Integer(*i),
        Value::Real(f) => rusqlite::types::Value::Real(*f),
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn from_pg_row(row: &postgres::Row) -> DbResult<Row> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let v = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?.map(Value::Integer)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Integer(v.into()))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Integer(v.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)?
                .map(|v| Value::Integer(v.into()))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)?.map(Value::Real)
        } else if *ty == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(i)?
                .map(|v| Value::Real(v.into()))
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
        } else {
            // TEXT, VARCHAR, NAME, BPCHAR: everything else the schema has is text.
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row { values })
}

fn pg_params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// `?1` → `$1` outside string literals and quoted names; everything else is unchanged.
pub fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    out.push(c);
                }
                '?' => out.push('$'),
                _ => out.push(c),
            },
        }
    }
    out
}

/// A value is sent as whatever type the server inferred for its placeholder: an integer to an
/// `INT4` or `BOOL` column, a number compared with text as its digits. SQLite is this lenient by
/// nature; PostgreSQL's binary protocol needs the exact type.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => {
                if *ty == Type::INT8 {
                    i.to_sql(ty, out)
                } else if *ty == Type::INT4 {
                    i32::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (*i != 0).to_sql(ty, out)
                } else if *ty == Type::FLOAT8 {
                    (*i as f64).to_sql(ty, out)
                } else {
                    i.to_string().to_sql(ty, out)
                }
            }
            Value::Real(f) => {
                if *ty == Type::FLOAT4 {
                    (*f as f32).to_sql(ty, out)
                } else if *ty == Type::FLOAT8 {
                    f.to_sql(ty, out)
                } else {
                    f.to_string().to_sql(ty, out)
                }
            }
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_literals_only() {
        assert_eq!(
            pg_sql("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND \"d?\" = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND \"d?\" = $12"
        );
    }

    #[test]
    fn sqlite_round_trips_every_kind() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let conn = Conn::sqlite(&c);
        conn.execute_batch("CREATE TABLE t (a INTEGER, b TEXT, c BLOB, d REAL, e INTEGER)")
            .unwrap();
        let n = conn
            .execute(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)",
                params![7_u32, "bảy", vec![7_u8], 0.5, None::<i64>],
            )
            .unwrap();
        assert_eq!(n, 1);
        let row = conn
            .query_row("SELECT a, b, c, d, e FROM t", [], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .unwrap();
        assert_eq!(row, (7, "bảy".to_owned(), vec![7], 0.5, None));
        let none = conn
            .query_row("SELECT a FROM t WHERE a = ?1", [8], |r| r.get::<_, i64>(0))
            .optional()
            .unwrap();
        assert_eq!(none, None);
        let err = conn
            .query_row("SELECT b FROM t", [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        assert!(matches!(err, DbError::Conversion(0, _)), "{err:?}");
    }
}
