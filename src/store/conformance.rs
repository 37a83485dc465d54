//! The behaviour every [`Store`] engine must show. Engine test files call
//! [`run_all`] with a factory for fresh, empty stores.
