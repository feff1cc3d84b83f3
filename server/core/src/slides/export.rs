//! The annotated export (later).
