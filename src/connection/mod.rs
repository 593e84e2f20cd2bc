//! connection (placeholder).
