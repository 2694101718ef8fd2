/**
 * Flink's options travel to the job server with Beam's spellings: each flag as
 * `beam:option:<snake_case>:v1`, the known ones typed, unknown ones as given, so Beam's Flink
 * runner reads them as FlinkPipelineOptions (checkpointing, state backend, savepoints, bundles).
 */
import { describe, expect, it } from "vitest";
import { PipelineOptions } from "../../sdk/options.js";
import { optionsStruct } from "./runner.js";

describe("pipeline options on the Job API", () => {
  it("passes Flink's options through with Beam's names", () => {
    const o = optionsStruct(
      PipelineOptions.fromArgs([
        "--runner=flink",
        "--streaming",
        "--checkpointing_interval=1000",
        "--parallelism=2",
        "--max_bundle_size=500",
        "--state_backend=filesystem",
        "--state_backend_storage_path=file:///tmp/ckpt",
        "--savepoint_path=file:///tmp/sp/savepoint-1",
        "--shutdown_sources_after_idle_ms=60000",
        "--max_bundle_time_mills=50",
        "--finish_bundle_before_checkpointing=false",
      ]),
    );
    expect(o).toMatchObject({
      "beam:option:streaming:v1": true,
      "beam:option:checkpointing_interval:v1": 1000,
      "beam:option:parallelism:v1": 2,
      "beam:option:max_bundle_size:v1": 500,
      "beam:option:state_backend:v1": "filesystem",
      "beam:option:state_backend_storage_path:v1": "file:///tmp/ckpt",
      "beam:option:savepoint_path:v1": "file:///tmp/sp/savepoint-1",
    });
    // Flags Sluice does not type go as given; Beam's Jackson reads "60000" as a long.
    expect(String(o["beam:option:shutdown_sources_after_idle_ms:v1"])).toBe("60000");
    expect(String(o["beam:option:max_bundle_time_mills:v1"])).toBe("50");
    // A flag given wins over Sluice's defaults for the runner (which only fill what is absent).
    expect(String(o["beam:option:finish_bundle_before_checkpointing:v1"])).toBe("false");
  });
});
