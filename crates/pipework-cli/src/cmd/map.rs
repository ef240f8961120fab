//! `pipework map`: one CMD run per distinct key, one output row per source row.

use pipework::jsonl::map_by_key;

use crate::args::MapArgs;
use crate::reply;
use crate::session::{Outcome, Session, Total};

/// Runs `pipework map`.
pub(crate) async fn run(args: MapArgs) -> anyhow::Result<Outcome> {
    let session = Session::start(&args.run, &args.dst, Total::LinesOf(&args.src)).await?;
    let f = session.call(reply::one_object);
    let opts = session.map_options(&args.key, &args.keep);
    let result = map_by_key(&args.src, &args.dst, f, opts).await;
    session.finish(result).await
}
