//! Nothing here: the example is its test, `tests/zookeeper.rs`, which uses only chaosbed's public
//! API the way a user's own crate would with chaosbed as a dev-dependency.
