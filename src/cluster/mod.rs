//! cluster (placeholder).
