<?php
/**
 * Server events to the worker: one JSON POST with the server token, a short
 * timeout, no redirects followed (docs/reference.md, "Server events").
 *
 * @package Tapline
 */

namespace Tapline;

final class Client {

	/** Seconds: the request runs after the shopper's page, and a failure is retried later. */
	public const TIMEOUT = 5;

	public function __construct( private Settings $settings ) {}

	public function configured(): bool {
		return '' !== (string) $this->settings->get( 'server_token' );
	}

	/** POSTs `$body` to `{worker}/{$route}` with `Authorization: Bearer` the server token. */
	public function post( string $route, array $body ): Answer {
		$response = wp_remote_post(
			$this->settings->worker_url() . $route,
			array(
				'timeout'     => self::TIMEOUT,
				'redirection' => 0,
				'headers'     => array(
					'Authorization' => 'Bearer ' . $this->settings->get( 'server_token' ),
					'Content-Type'  => 'application/json',
				),
				'body'        => wp_json_encode( $body ),
			)
		);
		return Answer::from_response( $response );
	}

	/** GET {url}: the health check. */
	public function get( string $url ): Answer {
		return Answer::from_response( wp_remote_get( $url, array( 'timeout' => self::TIMEOUT, 'redirection' => 0 ) ) );
	}
}
