//! Session rules: the stages a session moves through and its status within a
//! stage, with the transitions allowed between them (seed `004_*`).
//!
//! A session is created in `setup`, goes through `upload`, `processing`,
//! `review` and `jira_export`, and ends `completed`. Within a stage its status
//! says whether work is running, failed, or waits for the user. The store
//! refuses any move not listed here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The stage a session is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Signing in and choosing the Jira site and project.
    Setup,
    /// Uploading and validating CSV files.
    Upload,
    /// Planning and writing tickets.
    Processing,
    /// A person reviews and edits the tickets.
    Review,
    /// Creating the issues in Jira.
    JiraExport,
    /// Everything exported.
    Completed,
}

/// What a session is doing within its stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the user.
    Active,
    /// Files are being validated.
    Validating,
    /// Tickets are being planned and written.
    Processing,
    /// Descriptions are being checked as ADF.
    AdfValidating,
    /// Issues are being created in Jira.
    Exporting,
    /// The export stopped; it can be retried from the failure point.
    ExportFailed,
    /// Retries are used up; an administrator must look.
    AdminRequired,
    /// Processing failed; the user can start it again.
    Failed,
    /// Done.
    Completed,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Setup => "setup",
            Self::Upload => "upload",
            Self::Processing => "processing",
            Self::Review => "review",
            Self::JiraExport => "jira_export",
            Self::Completed => "completed",
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Active => "active",
            Self::Validating => "validating",
            Self::Processing => "processing",
            Self::AdfValidating => "adf_validating",
            Self::Exporting => "exporting",
            Self::ExportFailed => "export_failed",
            Self::AdminRequired => "admin_required",
            Self::Failed => "failed",
            Self::Completed => "completed",
        })
    }
}

/// Where a session is: its stage and its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Position {
    /// Stage.
    pub stage: Stage,
    /// Status within it.
    pub status: Status,
}

impl Position {
    /// A new session's position.
    pub const START: Position = Position {
        stage: Stage::Setup,
        status: Status::Active,
    };

    /// Builds a position.
    #[must_use]
    pub const fn new(stage: Stage, status: Status) -> Self {
        Self { stage, status }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stage, self.status)
    }
}

/// A move the rules do not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a session cannot go from {from} to {to}")]
pub struct TransitionError {
    /// Where it was.
    pub from: Position,
    /// Where it was asked to go.
    pub to: Position,
}

/// The status a session may have in a stage.
#[must_use]
pub fn allowed_in(stage: Stage, status: Status) -> bool {
    use Stage as S;
    use Status as T;
    matches!(
        (stage, status),
        (S::Setup, T::Active)
            | (S::Upload, T::Active | T::Validating)
            | (S::Processing, T::Processing | T::Failed)
            | (S::Review, T::Active | T::AdfValidating)
            | (
                S::JiraExport,
                T::Exporting | T::ExportFailed | T::AdminRequired
            )
            | (S::Completed, T::Completed)
    )
}

/// Checks a move from one position to another.
///
/// # Errors
/// [`TransitionError`] when the rules do not allow it.
pub fn check_transition(from: Position, to: Position) -> Result<(), TransitionError> {
    use Stage as S;
    use Status as T;
    let err = TransitionError { from, to };
    if !allowed_in(to.stage, to.status) || from == to {
        return Err(err);
    }
    let ok = match (from.stage, to.stage) {
        // Within a stage: start and finish work, fail, retry.
        (a, b) if a == b => matches!(
            (from.status, to.status),
            (T::Active, T::Validating | T::AdfValidating)
                | (T::Validating | T::AdfValidating, T::Active)
                | (T::Processing, T::Failed)
                | (T::Failed, T::Processing)
                | (T::Exporting, T::ExportFailed)
                | (T::ExportFailed, T::Exporting | T::AdminRequired)
                | (T::AdminRequired, T::Exporting)
        ),
        (S::Setup, S::Upload) => from.status == T::Active && to.status == T::Active,
        // Upload -> processing once files are valid; new files may be added from review.
        (S::Upload, S::Processing) => from.status == T::Active && to.status == T::Processing,
        (S::Processing, S::Review) => from.status == T::Processing && to.status == T::Active,
        (S::Processing, S::Upload) => from.status == T::Failed && to.status == T::Active,
        (S::Review, S::Upload) => from.status == T::Active && to.status == T::Active,
        (S::Review, S::Processing) => from.status == T::Active && to.status == T::Processing,
        (S::Review, S::JiraExport) => from.status == T::Active && to.status == T::Exporting,
        // A failed export may go back to review to fix tickets.
        (S::JiraExport, S::Review) => {
            matches!(from.status, T::ExportFailed | T::AdminRequired) && to.status == T::Active
        }
        (S::JiraExport, S::Completed) => from.status == T::Exporting,
        _ => false,
    };
    if ok { Ok(()) } else { Err(err) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stage as S;
    use Status as T;

    #[test]
    fn the_happy_path_is_allowed() {
        let path = [
            Position::START,
            Position::new(S::Upload, T::Active),
            Position::new(S::Upload, T::Validating),
            Position::new(S::Upload, T::Active),
            Position::new(S::Processing, T::Processing),
            Position::new(S::Review, T::Active),
            Position::new(S::Review, T::AdfValidating),
            Position::new(S::Review, T::Active),
            Position::new(S::JiraExport, T::Exporting),
            Position::new(S::JiraExport, T::ExportFailed),
            Position::new(S::JiraExport, T::Exporting),
            Position::new(S::Completed, T::Completed),
        ];
        for pair in path.windows(2) {
            assert_eq!(
                check_transition(pair[0], pair[1]),
                Ok(()),
                "{} -> {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn skipping_stages_or_leaving_completed_is_refused() {
        let bad = [
            (Position::START, Position::new(S::Review, T::Active)),
            (
                Position::new(S::Upload, T::Validating),
                Position::new(S::Processing, T::Processing),
            ),
            (
                Position::new(S::Completed, T::Completed),
                Position::new(S::Review, T::Active),
            ),
            (
                Position::new(S::Review, T::Active),
                Position::new(S::Review, T::Exporting),
            ),
            (
                Position::new(S::JiraExport, T::Exporting),
                Position::new(S::JiraExport, T::Exporting),
            ),
        ];
        for (from, to) in bad {
            let err = check_transition(from, to).unwrap_err();
            assert!(err.to_string().contains("cannot go from"), "{err}");
        }
    }

    #[test]
    fn every_allowed_status_pair_is_reachable_from_the_start() {
        let all_stages = [
            S::Setup,
            S::Upload,
            S::Processing,
            S::Review,
            S::JiraExport,
            S::Completed,
        ];
        let all_statuses = [
            T::Active,
            T::Validating,
            T::Processing,
            T::AdfValidating,
            T::Exporting,
            T::ExportFailed,
            T::AdminRequired,
            T::Failed,
            T::Completed,
        ];
        let positions: Vec<Position> = all_stages
            .iter()
            .flat_map(|&s| all_statuses.iter().map(move |&t| Position::new(s, t)))
            .filter(|p| allowed_in(p.stage, p.status))
            .collect();
        let mut reached = vec![Position::START];
        let mut i = 0;
        while i < reached.len() {
            let from = reached[i];
            for &to in &positions {
                if !reached.contains(&to) && check_transition(from, to).is_ok() {
                    reached.push(to);
                }
            }
            i += 1;
        }
        assert_eq!(reached.len(), positions.len());
    }
}
