//! Moving data into imi from the earlier iMi tool (SPEC §6, `/work/shared/LEGACY.md`
//! describes its schema): [`legacy::read`] opens its SQLite file read-only,
//! [`legacy::plan`] maps its rows onto imi's registry (normalising what that tool
//! left behind), [`legacy::import`] writes them through
//! [`imi_core::Store::import_snapshot`] in one transaction. [`fixture`] builds legacy
//! files with the exact legacy schema, for tests and the benchmark.

pub mod fixture;
pub mod legacy;
