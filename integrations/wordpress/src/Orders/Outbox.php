<?php
/**
 * Sends each conversion and refund once, after the shopper's page: events are
 * collected during the request and sent at shutdown (once the order is saved,
 * and after the response has left under PHP-FPM), with a short timeout. A
 * failure (no answer, 5xx, 408, 429) is tried again later, a bounded number
 * of times; every outcome is an order note the merchant can read.
 *
 * The first retry is queued as soon as an event is collected, and taken back
 * once it is sent: a request killed before shutdown (a timeout, a crash)
 * loses nothing, and the retry finds an event already sent and does nothing.
 *
 * @package Tapline
 */

namespace Tapline\Orders;

use Tapline\Answer;
use Tapline\Client;
use Tapline\Scheduler;
use Tapline\Settings;

final class Outbox {

	/** On an order: the worker's final answer to its conversion (`sent`, `duplicate`, …), or `skipped`. */
	public const SENT = '_tapline_sent';
	/** On an order: how many times its conversion was tried. */
	public const ATTEMPTS = '_tapline_attempts';
	/** On a refund: the worker's final answer to it. */
	public const REFUND_SENT = '_tapline_sent';

	public const RETRY_HOOK = 'tapline_retry';

	/** Seconds to wait before each retry: 1 minute, 5 minutes, 30 minutes, 2 hours, 12 hours; then the plugin gives up. */
	public const BACKOFF = array( 60, 300, 1800, 7200, 43200 );

	/** @var array<string, array{0: string, 1: int, 2: int}> what this request will send at shutdown, one per order or refund */
	private array $pending = array();

	public function __construct( private Settings $settings, private Client $client, private Scheduler $scheduler ) {}

	public function register(): void {
		add_action( 'shutdown', array( $this, 'flush' ), 20 );
		add_action( self::RETRY_HOOK, array( $this, 'attempt' ), 10, 4 );
	}

	/** Whether orders go to the worker from this server at all (a server token is set). */
	public function sends(): bool {
		return $this->client->configured();
	}

	public function add_conversion( int $order_id ): void {
		$this->add( 'conversion:' . $order_id, array( 'conversion', $order_id, 0 ) );
	}

	public function add_refund( int $order_id, int $refund_id ): void {
		$this->add( 'refund:' . $refund_id, array( 'refund', $order_id, $refund_id ) );
	}

	private function add( string $key, array $event ): void {
		if ( ! $this->sends() || isset( $this->pending[ $key ] ) ) {
			return;
		}
		$this->pending[ $key ] = $event;
		$this->scheduler->later( self::BACKOFF[0], self::RETRY_HOOK, array( ...$event, 2 ) );
	}

	/** At shutdown: everything this request collected, after the shopper has the page. */
	public function flush(): void {
		if ( ! $this->pending ) {
			return;
		}
		if ( function_exists( 'fastcgi_finish_request' ) && apply_filters( 'tapline_finish_request', true ) ) {
			fastcgi_finish_request();
		}
		$pending       = $this->pending;
		$this->pending = array();
		foreach ( $pending as [ $kind, $order_id, $refund_id ] ) {
			$this->attempt( $kind, $order_id, $refund_id, 1 );
		}
	}

	/** One try of one event; also the retry hook's callback. */
	public function attempt( $kind, $order_id, $refund_id = 0, $attempt = 1 ): void {
		// Action Scheduler may outlive WooCommerce (other plugins bundle it) and run a retry queued before it was deactivated.
		$order = function_exists( 'wc_get_order' ) ? wc_get_order( (int) $order_id ) : false;
		if ( ! $order ) {
			return;
		}
		if ( 'refund' === $kind ) {
			$refund = wc_get_order( (int) $refund_id );
			if ( ! $refund || $refund->get_meta( self::REFUND_SENT ) ) {
				return;
			}
			$answer = $this->client->post( 'refund', ConversionBody::refund( $order, $refund ) );
			$what   = sprintf( 'refund #%d', $refund->get_id() );
			$record = $refund;
		} else {
			// Another request (a gateway's webhook beside the shopper's return) may have sent it meanwhile.
			if ( $order->get_meta( self::SENT ) ) {
				return;
			}
			$answer = $this->client->post( 'convert', ConversionBody::conversion( $order ) );
			$what   = 'conversion';
			$record = $order;
			$order->update_meta_data( self::ATTEMPTS, (int) $attempt );
		}
		$this->record( $order, $record, $what, $answer, array( $kind, (int) $order_id, (int) $refund_id, (int) $attempt ) );
	}

	/**
	 * @param \WC_Order $order  where the note goes
	 * @param \WC_Order $record where the final answer is kept (the order, or the refund)
	 */
	private function record( $order, $record, string $what, Answer $answer, array $job ): void {
		[ $kind, $order_id, $refund_id, $attempt ] = $job;
		if ( ! $answer->retryable() ) {
			$record->update_meta_data( 'refund' === $kind ? self::REFUND_SENT : self::SENT, $answer->status() ?? 'rejected' );
			$record->save();
			// The retry queued when the event was collected (or by a failed try) is no longer needed.
			$this->scheduler->cancel( self::RETRY_HOOK, array( $kind, $order_id, $refund_id, $attempt + 1 ) );
			/* translators: 1: what was sent, 2: the worker's answer, e.g. "200 sent" */
			$order->add_order_note( sprintf( __( 'Tapline: %1$s %2$s.', 'tapline' ), $what, $answer->summary() ) );
			$order->save();
			return;
		}
		$attempts = count( self::BACKOFF ) + 1;
		if ( $attempt < $attempts ) {
			$wait = self::BACKOFF[ $attempt - 1 ];
			$this->scheduler->later( $wait, self::RETRY_HOOK, array( $kind, $order_id, $refund_id, $attempt + 1 ) );
			/* translators: 1: what was sent, 2: the answer, 3: a duration, 4: attempt number, 5: attempts allowed */
			$note = sprintf( __( 'Tapline: %1$s not delivered (%2$s); trying again in %3$s (attempt %4$d of %5$d).', 'tapline' ), $what, $answer->summary(), human_time_diff( 0, $wait ), $attempt, $attempts );
		} else {
			/* translators: 1: what was sent, 2: attempts, 3: the last answer */
			$note = sprintf( __( 'Tapline: %1$s not delivered after %2$d attempts (%3$s). Order actions → "Send to Tapline again" sends it once the worker answers.', 'tapline' ), $what, $attempts, $answer->summary() );
		}
		$order->add_order_note( $note );
		$order->save();
	}

	/** The order action: clears the order's marker and sends its conversion now. */
	public function resend( $order ): void {
		$order->delete_meta_data( self::SENT );
		$order->save();
		$this->attempt( 'conversion', $order->get_id(), 0, 1 );
	}
}
