<?php
/**
 * What the worker answered, read once: whether to try again, and one line of
 * plain text for an order note (never the worker's raw body, which is not ours to print).
 *
 * @package Tapline
 */

namespace Tapline;

final class Answer {

	/**
	 * @param int         $status 0 when no answer came (network error, timeout).
	 * @param array|null  $json   the answer's JSON object, when it was one.
	 * @param string|null $error  the transport's error, when no answer came.
	 */
	private function __construct( public readonly int $status, public readonly ?array $json, public readonly ?string $error ) {}

	public static function from_response( array|\WP_Error $response ): self {
		if ( is_wp_error( $response ) ) {
			return new self( 0, null, $response->get_error_message() );
		}
		$json = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		return new self( (int) wp_remote_retrieve_response_code( $response ), is_array( $json ) ? $json : null, null );
	}

	/**
	 * No answer, a 5xx, a 408 or a 429 may succeed later, as in the snippet's own
	 * outbox (docs/reference.md, "The tap API"), and so may a 401 or a 403 here;
	 * every other answer (a 400: the order itself is wrong) is final.
	 */
	public function retryable(): bool {
		// A 401 or 403 says the plugin's settings are wrong (a rotated server token, a firewall),
		// not the order: tried again, so the order goes once the merchant has fixed them.
		return 0 === $this->status || $this->status >= 500 || in_array( $this->status, array( 401, 403, 408, 429 ), true );
	}

	/** `sent`, `queued`, `duplicate`, `unattributed`, `reversed`, `adjusted`, `test`, or null. */
	public function status(): ?string {
		$status = $this->json['status'] ?? null;
		return 200 <= $this->status && $this->status < 300 && is_string( $status ) ? sanitize_key( $status ) : null;
	}

	/** One line of plain text, e.g. `200 sent`, `401 unauthorized`, `no answer (cURL error 7: …)`. */
	public function summary(): string {
		if ( 0 === $this->status ) {
			return 'no answer (' . sanitize_text_field( (string) $this->error ) . ')';
		}
		$word = $this->json['status'] ?? $this->json['error'] ?? '';
		$line = $this->status . ( is_string( $word ) && '' !== $word ? ' ' . $word : '' );
		$path = $this->json['issues'][0]['path'] ?? null;
		if ( is_array( $path ) ) {
			$path = implode( '.', array_filter( $path, 'is_scalar' ) );
		}
		if ( is_string( $path ) && '' !== $path ) {
			$line .= ' (' . $path . ')';
		}
		// Notes are shown as HTML by WooCommerce: only plain text leaves here.
		return sanitize_text_field( $line );
	}
}
