//! Workspace-level integration tests live under `tests/`.
