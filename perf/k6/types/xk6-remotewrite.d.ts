/**
 * Types for `k6/x/remotewrite`, the k6 extension github.com/grafana/xk6-client-prometheus-remote
 * (built into a k6 binary with `xk6 build --with github.com/grafana/xk6-client-prometheus-remote`).
 *
 * Written by hand from the extension's README, examples and doc comments; only what they document.
 * The extension speaks remote write 1.0 (`prometheus.WriteRequest`, snappy) and nothing else.
 */
declare module 'k6/x/remotewrite' {
  export interface ClientConfig {
    /** Remote-write endpoint, e.g. `http://127.0.0.1:9090/api/v1/write`; may carry `user:password@`. */
    url: string;
    /** User-Agent header; the extension has its own default. */
    user_agent?: string;
    /** Sent as `X-Scope-OrgID` (Cortex, Mimir). */
    tenant_name?: string;
    /** Request timeout as a Go duration (`"10s"`, `"1m"`); default 10s. */
    timeout?: string;
    /** Extra request headers. */
    headers?: Record<string, string>;
  }

  export interface Label {
    /** `__name__` for the metric name. */
    name: string;
    value: string;
  }

  export interface Sample {
    value: number;
    /** Milliseconds since the epoch; the time of sending when left out. */
    timestamp?: number;
  }

  export interface TimeSeries {
    labels: Label[];
    samples: Sample[];
  }

  /**
   * Label name → value template. A value may contain one of `${series_id}`, `${series_id/N}`
   * (integer division) or `${series_id%N}`; the rest is copied as is. `__name__` is the metric name.
   */
  export interface MetricTemplate {
    __name__: string;
    [labelName: string]: string;
  }

  /** Opaque result of `precompileLabelTemplates`, only good for `storeFromPrecompiledTemplates`. */
  export interface PrecompiledLabelTemplates {
    readonly __precompiledLabelTemplates: unique symbol;
  }

  /** What a store call answers: the receiver's HTTP response. */
  export interface RemoteWriteResponse {
    status: number;
    body?: string;
    headers?: Record<string, string>;
    error?: string;
  }

  export class Client {
    constructor(config: ClientConfig);
    /** Sends the series as one request. */
    store(timeSeries: TimeSeries[]): RemoteWriteResponse;
    /**
     * Generates and sends one request in Go: a series per id in [seriesIdStart, seriesIdEnd), each
     * with one sample of a random value in [minValue, maxValue) at `timestamp` (ms).
     */
    storeFromTemplates(
      minValue: number,
      maxValue: number,
      timestamp: number,
      seriesIdStart: number,
      seriesIdEnd: number,
      template: MetricTemplate,
    ): RemoteWriteResponse;
    /** As `storeFromTemplates`, with templates compiled once by `precompileLabelTemplates`. */
    storeFromPrecompiledTemplates(
      minValue: number,
      maxValue: number,
      timestamp: number,
      seriesIdStart: number,
      seriesIdEnd: number,
      template: PrecompiledLabelTemplates,
    ): RemoteWriteResponse;
    /**
     * Sends batch `batch` (1-based) of `batches` batches of `batchSize` generated series
     * (`k6_generated_metric_<id>` with `cardinality_1eN` labels); `totalSeries` must equal
     * `batches * batchSize`.
     */
    storeGenerated(totalSeries: number, batches: number, batchSize: number, batch: number): RemoteWriteResponse;
  }

  export function precompileLabelTemplates(template: MetricTemplate): PrecompiledLabelTemplates;
  export function Sample(value: number, timestamp: number): Sample;
  /** Labels as a name → value map here, unlike `TimeSeries.labels`. */
  export function Timeseries(labels: Record<string, string>, samples: Sample[]): TimeSeries;

  const remotewrite: {
    Client: typeof Client;
    Sample: typeof Sample;
    Timeseries: typeof Timeseries;
    precompileLabelTemplates: typeof precompileLabelTemplates;
  };
  export default remotewrite;
}
