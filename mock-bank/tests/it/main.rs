//! Integration tests of the mock bank (one test binary; modules per area).
