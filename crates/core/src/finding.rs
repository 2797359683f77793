//! Findings: what validation says about an upload, one problem each.
//!
//! A finding names the file, the line (the header is line 1), the column and
//! the offending value, carries a stable machine-readable [`Code`] and a
//! message that tells a site builder how to fix it. Codes are a public
//! contract: they appear in `dtg validate --format json` and in the API.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How bad a finding is: errors block processing, warnings and notes do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Nothing to fix: a value was read in another form than the one written
    /// (Drupal's own, or a tool's), and the sheet may want updating.
    Info,
    /// Processing can go on; the user should still look.
    Warning,
    /// Processing cannot go on until the file is fixed.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $severity:ident; )*) => {
        /// A stable identifier for each kind of finding.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in declaration order (for documentation and tests).
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as it appears in JSON output.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            /// The severity a finding with this code always has.
            #[must_use]
            pub const fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }
        }
    };
}

codes! {
    /// The file is larger than the per-file size limit.
    FileTooLarge = "file_too_large", Error;
    /// More files were uploaded than a session accepts.
    TooManyFiles = "too_many_files", Error;
    /// The file has more data rows than the per-file limit.
    TooManyRows = "too_many_rows", Error;
    /// One cell is larger than the per-cell limit.
    CellTooLarge = "cell_too_large", Error;
    /// The file is not UTF-8 and was read as Windows-1252.
    NotUtf8 = "not_utf8", Warning;
    /// The file uses `;` or a tab between cells instead of a comma.
    NonCommaDelimiter = "non_comma_delimiter", Warning;
    /// The file has no content at all, not even a header.
    EmptyFile = "empty_file", Error;
    /// The file has a header but no data rows.
    NoDataRows = "no_data_rows", Warning;
    /// The CSV syntax is broken (an unterminated quote, for example).
    CsvSyntax = "csv_syntax", Error;
    /// The header matches no CSV type of the registry.
    UnknownCsvType = "unknown_csv_type", Error;
    /// The header matches two CSV types equally and the file name does not decide.
    AmbiguousCsvType = "ambiguous_csv_type", Error;
    /// The file is of a known type but lacks one of its required columns.
    MissingRequiredColumn = "missing_required_column", Error;
    /// Two header cells name the same column.
    DuplicateColumn = "duplicate_column", Error;
    /// A header cell is empty while its column holds values.
    BlankColumnName = "blank_column_name", Warning;
    /// A row has more or fewer cells than the header.
    RaggedRow = "ragged_row", Error;
    /// A required cell is blank.
    MissingRequiredValue = "missing_required_value", Error;
    /// A machine name has characters Drupal does not accept.
    InvalidMachineName = "invalid_machine_name", Error;
    /// A machine name Drupal accepts that starts with a digit or an underscore.
    UnusualMachineName = "unusual_machine_name", Warning;
    /// A machine name is longer than Drupal allows.
    MachineNameTooLong = "machine_name_too_long", Error;
    /// A field name is longer than Drupal's 32 characters.
    FieldNameTooLong = "field_name_too_long", Error;
    /// The same machine name appears twice within a type.
    DuplicateMachineName = "duplicate_machine_name", Error;
    /// Two bundles' fields of the same name disagree on type, cardinality or target.
    FieldStorageConflict = "field_storage_conflict", Error;
    /// A cell is not one of the values its column accepts.
    InvalidChoice = "invalid_choice", Error;
    /// A yes/no cell holds something else.
    InvalidBoolean = "invalid_boolean", Error;
    /// A number cell holds something else.
    InvalidInteger = "invalid_integer", Error;
    /// A field's cardinality is neither -1/unlimited nor a positive number.
    InvalidCardinality = "invalid_cardinality", Error;
    /// The entity type of a field is not one the registry knows.
    UnknownEntityType = "unknown_entity_type", Error;
    /// A field type outside the registry's list.
    UnknownFieldType = "unknown_field_type", Warning;
    /// A reference to a bundle that no uploaded file defines.
    UnknownBundleReference = "unknown_bundle_reference", Warning;
    /// A reference to a menu that no uploaded file defines.
    UnknownMenuReference = "unknown_menu_reference", Warning;
    /// A menu link's parent is not a link of the same menu.
    UnknownParentLink = "unknown_parent_link", Warning;
    /// A view filters or sorts by a field no listed bundle has.
    UnknownFieldReference = "unknown_field_reference", Warning;
    /// A reference field without a target type.
    MissingTargetType = "missing_target_type", Warning;
    /// A setting that does not apply to this field type and will be ignored.
    IgnoredSetting = "ignored_setting", Warning;
    /// A list field without allowed values.
    MissingAllowedValues = "missing_allowed_values", Warning;
    /// A link or path that Drupal would not accept.
    InvalidPath = "invalid_path", Error;
    /// A URL alias pattern that is not a path with tokens.
    InvalidPattern = "invalid_pattern", Error;
    /// A workflow transition that is not `from>to` over the workflow's states.
    InvalidTransition = "invalid_transition", Error;
    /// An image effect that is not `name:arguments` or not a known effect.
    UnknownImageEffect = "unknown_image_effect", Warning;
    /// A display type of a view outside the registry's list.
    UnknownDisplayType = "unknown_display_type", Warning;
    /// A human label of a dialect (field type, base table, ...) that the registry does not know.
    UnknownLabel = "unknown_label", Warning;
    /// A human-label reference that matches no row.
    UnknownLabelReference = "unknown_label_reference", Warning;
    /// A human-label reference that matches two or more rows.
    AmbiguousLabelReference = "ambiguous_label_reference", Warning;
    /// A Drush `field:info` file whose name does not say the entity type and bundle.
    MissingBundleInFileName = "missing_bundle_in_file_name", Error;
    /// A value written in another form than the canonical one (a view path's `{node}`
    /// placeholder, a permission in capitals, ...) was read in the canonical form.
    NormalisedValue = "normalised_value", Info;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// The file's name as uploaded.
    pub file: String,
    /// 1-based line of the CSV record (the header is line 1); absent for file-level findings.
    pub line: Option<u32>,
    /// The column as written in the file's header, where one applies.
    pub column: Option<String>,
    /// The offending value, where one applies.
    pub value: Option<String>,
    /// Error, warning or info.
    pub severity: Severity,
    /// Stable machine-readable code.
    pub code: Code,
    /// What is wrong and how to fix it, in a site builder's words.
    pub message: String,
}

impl Finding {
    /// A finding about a whole file.
    #[must_use]
    pub fn file(file: &str, code: Code, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            column: None,
            value: None,
            severity: code.severity(),
            code,
            message: message.into(),
        }
    }

    /// A finding about one line of a file.
    #[must_use]
    pub fn at(file: &str, line: u32, code: Code, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            ..Self::file(file, code, message)
        }
    }

    /// Adds the column the finding is about.
    #[must_use]
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Adds the offending value.
    #[must_use]
    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Whether this finding blocks processing.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
