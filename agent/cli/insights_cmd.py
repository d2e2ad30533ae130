"""``reeltwin insights``: what the audience did with the published reels, per pillar and per hook style."""

from __future__ import annotations

import typer

from agent.cli.context import err, out, print_json


def insights(
    ctx: typer.Context,
    refresh: bool = typer.Option(False, "--refresh", help="Ask Instagram for the latest metrics first (the scheduler does it daily)."),
    creator: str = typer.Option(None, "--creator", help="Only this creator (calendar handle)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Views, reach, likes, comments, saves and shares of the published reels, averaged per pillar and per hook style,
    the best reels, and suggested pillar weights (a suggestion: the calendar is never edited)."""
    from sqlalchemy import select

    from agent.backends import make_publisher
    from agent.content_calendar.loader import calendar_files, load_all
    from agent.db.models import Creator
    from agent.errors import AgentError, NotFoundError
    from agent.jobs.insights import refresh_reel_insights, summarize

    settings, session = ctx.obj.settings, ctx.obj.session
    refreshed: dict[int, str] = {}
    if refresh:
        from agent.backends import make_publisher_for
        from agent.publish_accounts import NoPublishAccount, any_accounts

        if any_accounts(session):   # each creator's reels from its own account
            for owner in session.execute(select(Creator).order_by(Creator.handle)).scalars():
                if creator and owner.handle != creator.lstrip("@"):
                    continue
                try:
                    publisher = make_publisher_for(session, settings, owner.handle)
                except NoPublishAccount:
                    continue
                with publisher:
                    refreshed.update(refresh_reel_insights(session, publisher, creator_ids=[owner.id]))
        else:
            with make_publisher(settings) as publisher:
                refreshed = refresh_reel_insights(session, publisher)
        refused = [text for text in refreshed.values() if text.startswith("refused:")]
        if refused:
            raise AgentError(refused[0].removeprefix("refused: "))
    creators = list(session.execute(select(Creator).order_by(Creator.handle)).scalars())
    if creator:
        creators = [c for c in creators if c.handle == creator.lstrip("@")]
        if not creators:
            raise NotFoundError(f"creator {creator!r} is not known; run `reeltwin plan` after adding calendar/{creator.lstrip('@')}.yaml")
    weights: dict[str, dict[str, float]] = {}
    files = calendar_files(settings.calendar_dir, include_templates=False)
    if files:
        for item in load_all(files):
            weights[item.calendar.handle] = {p.name: p.weight for p in item.calendar.pillars}
    summaries = [summarize(session, c, current_weights=weights.get(c.handle)) for c in creators]
    if as_json:
        print_json({"refreshed": {str(k): v for k, v in refreshed.items()}, "creators": [s.to_dict() for s in summaries]})
        return
    if refresh:
        err.print(f"refreshed the metrics of {len(refreshed)} reel(s)")
    if not summaries or all(s.reels_with_metrics == 0 for s in summaries):
        out.print("no published reel has metrics yet: Instagram reports them a day or two after posting "
                  "(`reeltwin insights --refresh` asks now; the Graph API publisher is needed)")
        return
    from rich.table import Table

    for summary in summaries:
        if not summary.reels_with_metrics:
            continue
        for title, groups in (("pillar", summary.by_pillar), ("hook style", summary.by_hook)):
            table = Table(title=f"@{summary.creator}: by {title} ({summary.reels_with_metrics} reels with metrics)", title_justify="left")
            for column in (title, "reels", "views", "reach", "likes", "comments", "saves", "shares", "engagement"):
                table.add_column(column, justify="left" if column == title else "right")
            for g in groups:
                cells = [g.views, g.reach, g.likes, g.comments, g.saved, g.shares]
                table.add_row(g.name, str(g.reels), *("–" if v is None else f"{v:,.0f}" for v in cells),
                              "–" if g.engagement is None else f"{g.engagement:.1%}")
            out.print(table)
        if summary.best:
            out.print("best reels: " + "; ".join(f"#{b['reel_id']} {b['hook'][:50]!r} ({b['engagement']:.1%})" for b in summary.best[:3]))
        if summary.suggested_weights:
            out.print("suggested pillar weights (edit the calendar yourself if you agree): "
                      + ", ".join(f"{name} {weight:g}" for name, weight in summary.suggested_weights.items()))


def register(root: typer.Typer) -> None:
    """Add `insights` to the root command."""
    root.command("insights")(insights)
