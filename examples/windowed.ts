/**
 * Windowed counts: page views with event timestamps, counted per page in fixed one-minute windows
 * and in 30-second-gap sessions per user.
 *
 *   npx sluice run examples/windowed.ts --output out/windowed
 *
 * Output lines: `<window start ISO>..<window end ISO> <key>: <count>`.
 */
import {
  Count,
  Create,
  Duration,
  FixedWindows,
  GlobalWindows,
  Map,
  PCollectionList,
  Pipeline,
  PipelineOptions,
  Sessions,
  WindowInto,
  WithTimestamps,
  WriteToText,
  Flatten,
  type IntervalWindow,
} from "sluice";

interface View {
  readonly user: string;
  readonly page: string;
  readonly at: string;
}

const options = PipelineOptions.fromLaunch();
const output = options.string("output");

const views: View[] = [
  { user: "ana", page: "/home", at: "2026-11-23T10:00:05Z" },
  { user: "ana", page: "/docs", at: "2026-11-23T10:00:20Z" },
  { user: "bo", page: "/home", at: "2026-11-23T10:00:40Z" },
  { user: "ana", page: "/home", at: "2026-11-23T10:01:10Z" },
  { user: "bo", page: "/docs", at: "2026-11-23T10:02:30Z" },
  { user: "bo", page: "/home", at: "2026-11-23T10:02:45Z" },
  { user: "ana", page: "/docs", at: "2026-11-23T10:05:00Z" },
];

const windowLabel = (w: IntervalWindow): string => `${new Date(w.start).toISOString()}..${new Date(w.end).toISOString()}`;

const p = Pipeline.create(options);
const timed = p
  .apply("Views", Create.of(views))
  .apply("Timestamp", WithTimestamps((v: View) => new Date(v.at)));

const perMinute = timed
  .apply("Minute windows", WindowInto<View>(FixedWindows(Duration.minutes(1))))
  .apply("Page", Map((v: View) => v.page))
  .apply("Count pages", Count.perElement())
  .apply("Format pages", Map(([page, n]: [string, number], c) => `${windowLabel(c.window as IntervalWindow)} page ${page}: ${n}`))
  .apply("Unwindow pages", WindowInto<string>(GlobalWindows()));

const sessions = timed
  .apply("Sessions", WindowInto<View>(Sessions(Duration.seconds(30))))
  .apply("User", Map((v: View): [string, number] => [v.user, 1]))
  .apply("Count per session", Count.perKey<string, number>())
  .apply("Format sessions", Map(([user, n]: [string, number], c) => `${windowLabel(c.window as IntervalWindow)} session ${user}: ${n}`))
  .apply("Unwindow sessions", WindowInto<string>(GlobalWindows()));

PCollectionList.of(perMinute, sessions)
  .apply("Both", Flatten())
  .apply("Write", WriteToText(output));

await p.run();
