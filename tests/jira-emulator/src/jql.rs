//! The part of JQL the product uses, parsed and evaluated the way Jira does:
//! clauses on `project`, `key` (`issuekey`, `id`), `labels`, `parent` and
//! `issuetype` with `=`, `!=`, `in`, `not in` and `is [not] empty`, joined by
//! `AND`/`OR` with parentheses, and `ORDER BY created`, `key` or `id`.
//!
//! A query must be bounded: every alternative must restrict the project or
//! the issue (`project = X`, `key in (...)`, `parent = X`), as Jira's
//! `/search/jql` requires.

use std::cmp::Ordering;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The condition, if any.
    pub condition: Option<Expr>,
    /// `ORDER BY` terms: field and whether descending.
    pub order: Vec<(SortField, bool)>,
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All must hold.
    And(Vec<Expr>),
    /// One must hold.
    Or(Vec<Expr>),
    /// A field compared with values.
    Clause(Clause),
}

/// One comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// The field.
    pub field: Field,
    /// The operator.
    pub op: Op,
    /// The values compared with (none for `is empty`).
    pub values: Vec<String>,
}

/// A field JQL can name here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `project`.
    Project,
    /// `key`, `issuekey`, `id`.
    Key,
    /// `labels`.
    Labels,
    /// `parent`.
    Parent,
    /// `issuetype`, `type`.
    IssueType,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=` or `in`.
    In,
    /// `!=` or `not in`.
    NotIn,
    /// `is empty`.
    IsEmpty,
    /// `is not empty`.
    IsNotEmpty,
}

/// A field to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// `created`.
    Created,
    /// `key` (project, then number).
    Key,
    /// `id`.
    Id,
}

/// What a condition is checked against: one issue's searchable values.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// Project key and id.
    pub project: (&'a str, &'a str),
    /// Issue key and id.
    pub issue: (&'a str, &'a str),
    /// Labels.
    pub labels: &'a [String],
    /// Parent key and id, if any.
    pub parent: Option<(&'a str, &'a str)>,
    /// Issue type name and id.
    pub issue_type: (&'a str, &'a str),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Eq,
    Ne,
    LParen,
    RParen,
    Comma,
}

fn tokenize(jql: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = jql.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' | '=' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    ',' => Token::Comma,
                    _ => Token::Eq,
                });
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err(
                        "Error in the JQL Query: the character '!' is a reserved JQL character."
                            .to_owned(),
                    );
                }
                tokens.push(Token::Ne);
            }
            '"' | '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err("Error in the JQL Query: the quoted string is not closed."
                                .to_owned());
                        }
                        Some('\\') => {
                            if let Some(n) = chars.next() {
                                s.push(n);
                            }
                        }
                        Some(q) if q == c => break,
                        Some(o) => s.push(o),
                    }
                }
                tokens.push(Token::Str(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || "()=,!\"'".contains(n) {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                if s.is_empty() {
                    return Err(format!(
                        "Error in the JQL Query: the character '{c}' is a reserved JQL character."
                    ));
                }
                tokens.push(Token::Word(s));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

fn is_kw(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), String> {
        if is_kw(self.peek(), kw) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("Error in the JQL Query: Expecting '{kw}'."))
        }
    }

    fn or_expr(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.and_expr()?];
        while is_kw(self.peek(), "or") {
            self.at += 1;
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.primary()?];
        while is_kw(self.peek(), "and") {
            self.at += 1;
            parts.push(self.primary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn primary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::LParen) {
            self.at += 1;
            let e = self.or_expr()?;
            if self.next() != Some(Token::RParen) {
                return Err("Error in the JQL Query: Expecting ')'.".to_owned());
            }
            return Ok(e);
        }
        let name = match self.next() {
            Some(Token::Word(w) | Token::Str(w)) => w,
            _ => return Err("Error in the JQL Query: Expecting a field name.".to_owned()),
        };
        let field = match name.to_ascii_lowercase().as_str() {
            "project" => Field::Project,
            "key" | "issuekey" | "id" => Field::Key,
            "labels" => Field::Labels,
            "parent" => Field::Parent,
            "issuetype" | "type" => Field::IssueType,
            _ => {
                return Err(format!(
                    "Field '{name}' does not exist or you do not have permission to view it."
                ));
            }
        };
        let (op, values) = match self.next() {
            Some(Token::Eq) => (Op::In, vec![self.value()?]),
            Some(Token::Ne) => (Op::NotIn, vec![self.value()?]),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => (Op::In, self.list()?),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.expect_kw("in")?;
                (Op::NotIn, self.list()?)
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("is") => {
                let negated = is_kw(self.peek(), "not");
                if negated {
                    self.at += 1;
                }
                if !(is_kw(self.peek(), "empty") || is_kw(self.peek(), "null")) {
                    return Err("Error in the JQL Query: Expecting 'EMPTY'.".to_owned());
                }
                self.at += 1;
                (
                    if negated { Op::IsNotEmpty } else { Op::IsEmpty },
                    Vec::new(),
                )
            }
            _ => {
                return Err(format!(
                    "Error in the JQL Query: Expecting operator but got the end of the query or an unknown operator after '{name}'."
                ));
            }
        };
        Ok(Expr::Clause(Clause { field, op, values }))
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(w) | Token::Str(w)) => Ok(w),
            _ => Err(
                "Error in the JQL Query: Expecting either a value, list or function.".to_owned(),
            ),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        if self.next() != Some(Token::LParen) {
            return Err("Error in the JQL Query: Expecting '(' after 'in'.".to_owned());
        }
        let mut values = vec![self.value()?];
        loop {
            match self.next() {
                Some(Token::Comma) => values.push(self.value()?),
                Some(Token::RParen) => return Ok(values),
                _ => return Err("Error in the JQL Query: Expecting ',' or ')'.".to_owned()),
            }
        }
    }
}

/// Parses a query.
///
/// # Errors
/// Jira's message for the first problem.
pub fn parse(jql: &str) -> Result<Query, String> {
    let mut p = Parser {
        tokens: tokenize(jql)?,
        at: 0,
    };
    let condition = if p.peek().is_none() || is_kw(p.peek(), "order") {
        None
    } else {
        Some(p.or_expr()?)
    };
    let mut order = Vec::new();
    if is_kw(p.peek(), "order") {
        p.at += 1;
        p.expect_kw("by")?;
        loop {
            let field = match p.next() {
                Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                    "created" => SortField::Created,
                    "key" | "issuekey" => SortField::Key,
                    "id" => SortField::Id,
                    _ => {
                        return Err(format!("Not able to sort using field '{w}'."));
                    }
                },
                _ => return Err("Error in the JQL Query: Expecting a field name.".to_owned()),
            };
            let mut desc = false;
            if is_kw(p.peek(), "desc") {
                desc = true;
                p.at += 1;
            } else if is_kw(p.peek(), "asc") {
                p.at += 1;
            }
            order.push((field, desc));
            if p.peek() == Some(&Token::Comma) {
                p.at += 1;
            } else {
                break;
            }
        }
    }
    if let Some(t) = p.peek() {
        return Err(format!(
            "Error in the JQL Query: unexpected {t:?} at position {}.",
            p.at
        ));
    }
    Ok(Query { condition, order })
}

impl Expr {
    /// Whether every alternative restricts the project or the issue.
    #[must_use]
    pub fn is_bounded(&self) -> bool {
        match self {
            Self::And(parts) => parts.iter().any(Self::is_bounded),
            Self::Or(parts) => parts.iter().all(Self::is_bounded),
            Self::Clause(c) => {
                c.op == Op::In && matches!(c.field, Field::Project | Field::Key | Field::Parent)
            }
        }
    }

    /// Every clause, for checks of the values named.
    pub fn clauses(&self) -> Vec<&Clause> {
        match self {
            Self::And(parts) | Self::Or(parts) => parts.iter().flat_map(Self::clauses).collect(),
            Self::Clause(c) => vec![c],
        }
    }

    /// Whether an issue matches.
    #[must_use]
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        match self {
            Self::And(parts) => parts.iter().all(|p| p.matches(s)),
            Self::Or(parts) => parts.iter().any(|p| p.matches(s)),
            Self::Clause(c) => c.matches(s),
        }
    }
}

impl Clause {
    fn matches(&self, s: &Subject<'_>) -> bool {
        let pair = |(a, b): (&str, &str), v: &String| a.eq_ignore_ascii_case(v) || b == v;
        let hit = |v: &String| match self.field {
            Field::Project => pair(s.project, v),
            Field::Key => pair(s.issue, v),
            Field::Labels => s.labels.iter().any(|l| l == v),
            Field::Parent => s.parent.is_some_and(|p| pair(p, v)),
            Field::IssueType => pair(s.issue_type, v),
        };
        let empty = match self.field {
            Field::Labels => s.labels.is_empty(),
            Field::Parent => s.parent.is_none(),
            _ => false,
        };
        match self.op {
            Op::In => self.values.iter().any(hit),
            Op::NotIn => !self.values.iter().any(hit),
            Op::IsEmpty => empty,
            Op::IsNotEmpty => !empty,
        }
    }
}

/// Compares two issue keys the way Jira sorts them: project, then number.
#[must_use]
pub fn compare_keys(a: &str, b: &str) -> Ordering {
    let split = |k: &str| {
        let (p, n) = k.rsplit_once('-').unwrap_or((k, "0"));
        (p.to_owned(), n.parse::<u64>().unwrap_or(0))
    };
    split(a).cmp(&split(b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_products_query_parses_and_is_bounded() {
        let q = parse(r#"project = DTG AND labels = "dtg-run-1" ORDER BY created ASC"#).unwrap();
        assert!(q.condition.unwrap().is_bounded());
        assert_eq!(q.order, vec![(SortField::Created, false)]);
    }

    #[test]
    fn a_label_alone_or_an_open_alternative_is_unbounded() {
        assert!(!parse("labels = x").unwrap().condition.unwrap().is_bounded());
        let q = parse("project = DTG OR labels in (a, b)").unwrap();
        assert!(!q.condition.unwrap().is_bounded());
        assert!(parse("order by key").unwrap().condition.is_none());
    }

    #[test]
    fn unknown_fields_and_broken_syntax_are_refused() {
        assert!(parse("foo = 1").unwrap_err().contains("does not exist"));
        assert!(parse("project = ").is_err());
        assert!(parse("project in (A, B").is_err());
        assert!(parse(r#"labels = "open"#).is_err());
    }

    #[test]
    fn keys_sort_by_number() {
        assert_eq!(compare_keys("DTG-9", "DTG-10"), Ordering::Less);
    }
}
