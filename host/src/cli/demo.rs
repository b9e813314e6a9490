//! `tokengate demo`: the arguments; [`crate::demo`] runs it.

use std::net::SocketAddr;

use anyhow::Result;
use clap::Args;

use super::DataDir;
use crate::config::{default, env};

/// `tokengate demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address and port of the demo gateway (port 0: any free port; the curl
    /// commands printed use the one it got).
    #[arg(long, env = env::LISTEN, default_value_t = default::LISTEN)]
    pub listen: SocketAddr,
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataDir,
}

/// Runs the demo until Ctrl-C.
pub(super) async fn run(args: DemoArgs) -> Result<()> {
    crate::demo::run(args.listen, &args.data.data_dir).await
}
