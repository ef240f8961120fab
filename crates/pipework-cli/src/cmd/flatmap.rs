//! `pipework flatmap`: one CMD run per (unique) key, any number of output rows.

use pipework::jsonl::flatmap_by_key;

use crate::args::MapArgs;
use crate::reply;
use crate::session::{Outcome, Session, Total};

/// Runs `pipework flatmap`.
pub(crate) async fn run(args: MapArgs) -> anyhow::Result<Outcome> {
    let session = Session::start(&args.run, &args.dst, Total::LinesOf(&args.src)).await?;
    let f = session.call(reply::objects);
    let opts = session.map_options(&args.key, &args.keep);
    let result = flatmap_by_key(&args.src, &args.dst, f, opts).await;
    session.finish(result).await
}
