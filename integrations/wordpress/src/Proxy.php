<?php
/**
 * Proxy mode, for a shop whose DNS is not on Cloudflare: this site answers
 * /_tap/* and forwards each request to the worker, with the forwarder secret
 * and the shopper's IP, host and scheme (docs/guides/wordpress-woocommerce.md,
 * "Proxy mode"). The script, its cookie and its requests stay first-party.
 * The snippet files are cached here, not fetched from the worker per page view.
 *
 * @package Tapline
 */

namespace Tapline;

final class Proxy {

	/** Request headers never passed on: hop-by-hop ones, the host, and what only this forwarder may set. */
	private const DROPPED = array( 'host', 'connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'proxy-authorization', 'content-length', 'accept-encoding', 'tapline-forwarder', 'x-real-ip', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'cf-connecting-ip' );

	/** Answer headers passed back to the browser. */
	private const KEPT = array( 'content-type', 'cache-control', 'etag', 'set-cookie', 'retry-after', 'vary', 'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-headers', 'access-control-allow-methods', 'access-control-max-age', 'content-security-policy', 'x-content-type-options' );

	/** As long as the worker lets browsers keep the script (proxy/routes/snippet.ts). */
	public const SNIPPET_TTL = HOUR_IN_SECONDS;

	public function __construct( private Settings $settings ) {}

	public function register(): void {
		if ( $this->settings->proxy() ) {
			add_action( 'plugins_loaded', array( $this, 'maybe_forward' ), 0 );
		}
	}

	public function maybe_forward(): void {
		$rest = $this->path_under_tap();
		if ( null === $rest ) {
			return;
		}
		$method = strtoupper( (string) ( $_SERVER['REQUEST_METHOD'] ?? 'GET' ) ); // phpcs:ignore
		if ( 'GET' === $method && preg_match( '/^[a-z0-9-]+\.js$/', $rest ) ) {
			$this->send( $this->snippet_file( $rest ) );
		} else {
			$this->send( $this->forward( $method, $rest ) );
		}
		exit;
	}

	/** The part after this site's /_tap/, or null when the request is not for it. */
	private function path_under_tap(): ?string {
		$path = (string) wp_parse_url( (string) ( $_SERVER['REQUEST_URI'] ?? '' ), PHP_URL_PATH ); // phpcs:ignore
		$base = untrailingslashit( (string) wp_parse_url( home_url( '/' ), PHP_URL_PATH ) ) . '/_tap/';
		return str_starts_with( $path, $base ) ? substr( $path, strlen( $base ) ) : null;
	}

	/**
	 * A snippet file from the cache, or fetched once and kept for SNIPPET_TTL.
	 * A browser's If-None-Match is answered here with a 304.
	 *
	 * @return array{status: int, headers: array<string, string|string[]>, body: string}
	 */
	private function snippet_file( string $file ): array {
		$key    = 'tapline_js_' . md5( $this->settings->worker_url() . $file );
		$cached = get_transient( $key );
		if ( ! is_array( $cached ) ) {
			$answer = $this->forward( 'GET', $file, false );
			if ( 200 !== $answer['status'] ) {
				return $answer;
			}
			$cached = array(
				'etag' => (string) ( $answer['headers']['etag'] ?? '' ),
				'body' => $answer['body'],
			);
			set_transient( $key, $cached, self::SNIPPET_TTL );
		}
		$headers = array(
			'content-type'  => 'text/javascript; charset=utf-8',
			'cache-control' => 'public, max-age=' . self::SNIPPET_TTL,
		);
		if ( '' !== $cached['etag'] ) {
			$headers['etag'] = $cached['etag'];
			if ( trim( (string) ( $_SERVER['HTTP_IF_NONE_MATCH'] ?? '' ) ) === $cached['etag'] ) { // phpcs:ignore
				return array( 'status' => 304, 'headers' => $headers, 'body' => '' );
			}
		}
		return array( 'status' => 200, 'headers' => $headers, 'body' => $cached['body'] );
	}

	/**
	 * The request, passed on to the worker with the forwarder's headers.
	 *
	 * @return array{status: int, headers: array<string, string|string[]>, body: string}
	 */
	private function forward( string $method, string $rest, bool $with_request = true ): array {
		$headers = $with_request ? $this->request_headers() : array();
		$headers['Tapline-Forwarder'] = (string) $this->settings->get( 'forwarder_secret' );
		$headers['X-Real-IP']         = (string) ( $_SERVER['REMOTE_ADDR'] ?? '' ); // phpcs:ignore
		$headers['X-Forwarded-Host']  = $this->shop_host();
		$headers['X-Forwarded-Proto'] = is_ssl() ? 'https' : 'http';
		$query    = (string) ( $_SERVER['QUERY_STRING'] ?? '' ); // phpcs:ignore
		$response = wp_remote_request(
			$this->settings->worker_url() . $rest . ( '' !== $query ? '?' . $query : '' ),
			array(
				'method'      => $method,
				'headers'     => $headers,
				'body'        => $with_request && ! in_array( $method, array( 'GET', 'HEAD' ), true ) ? (string) file_get_contents( 'php://input' ) : null,
				'timeout'     => Client::TIMEOUT,
				'redirection' => 0,
			)
		);
		if ( is_wp_error( $response ) ) {
			// As the worker says it when it cannot deliver: the snippet keeps the event and sends it later.
			return array(
				'status'  => 502,
				'headers' => array( 'content-type' => 'application/json' ),
				'body'    => (string) wp_json_encode( array( 'ok' => false, 'error' => 'worker_unreachable' ) ),
			);
		}
		$kept = array();
		foreach ( wp_remote_retrieve_headers( $response ) as $name => $value ) {
			if ( in_array( strtolower( $name ), self::KEPT, true ) ) {
				$kept[ strtolower( $name ) ] = $value;
			}
		}
		return array(
			'status'  => (int) wp_remote_retrieve_response_code( $response ),
			'headers' => $kept,
			'body'    => (string) wp_remote_retrieve_body( $response ),
		);
	}

	/**
	 * The shop's host as WordPress knows it (Settings → General), with its port when it has one:
	 * never the request's Host header, which whoever sends the request chooses.
	 */
	private function shop_host(): string {
		$home = wp_parse_url( home_url() );
		return ( $home['host'] ?? '' ) . ( isset( $home['port'] ) ? ':' . $home['port'] : '' );
	}

	/** @return array<string, string> the browser's headers, without those in DROPPED, and of its cookies only tap_data */
	private function request_headers(): array {
		$headers = array();
		foreach ( $_SERVER as $name => $value ) { // phpcs:ignore
			if ( is_string( $value ) && str_starts_with( $name, 'HTTP_' ) ) {
				$headers[ str_replace( '_', '-', strtolower( substr( $name, 5 ) ) ) ] = $value;
			}
		}
		if ( isset( $_SERVER['CONTENT_TYPE'] ) ) {
			$headers['content-type'] = (string) $_SERVER['CONTENT_TYPE']; // phpcs:ignore
		}
		$headers = array_diff_key( $headers, array_flip( self::DROPPED ) );
		if ( isset( $headers['cookie'] ) ) {
			// The worker reads only tap_data: this site's login and cart cookies stay here.
			$kept              = array_filter( array_map( 'trim', explode( ';', $headers['cookie'] ) ), static fn ( $pair ) => str_starts_with( $pair, 'tap_data=' ) );
			$headers['cookie'] = implode( '; ', $kept );
			if ( '' === $headers['cookie'] ) {
				unset( $headers['cookie'] );
			}
		}
		return $headers;
	}

	private function send( array $answer ): void {
		status_header( $answer['status'] );
		foreach ( $answer['headers'] as $name => $values ) {
			foreach ( (array) $values as $value ) {
				header( $name . ': ' . $value, 'set-cookie' !== $name );
			}
		}
		echo $answer['body']; // phpcs:ignore WordPress.Security.EscapeOutput -- the worker's own answer, passed through as a reverse proxy does.
	}
}
