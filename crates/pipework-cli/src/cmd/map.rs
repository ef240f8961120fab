//! `pipework map`: one CMD run per distinct key, one output row per source row.

use pipework::jsonl::map_by_key;

use crate::args::MapArgs;
use crate::call_identity::with_call;
use crate::reply;
use crate::session::{Outcome, Session};

/// Runs `pipework map`.
pub(crate) async fn run(args: MapArgs) -> anyhow::Result<Outcome> {
    let session = Session::start(&args.run, &args.dst, &args.key).await?;
    let src = match session.read_src(&args.src).await? {
        Ok(src) => src,
        Err(stopped) => return Ok(stopped),
    };
    let f = session.call(reply::one_object);
    let opts = with_call(session.map_options(&args.key, &args.keep), &args);
    let result = map_by_key(src.path(), &args.dst, f, opts).await;
    let outcome = session.finish(result).await;
    // The spool (if SRC was a stream) goes only now: the library is done.
    drop(src);
    outcome
}
