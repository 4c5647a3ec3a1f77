<?php
/**
 * A WooCommerce refund, full or partial, takes the affiliate's commission back
 * (docs/reference.md, "Refunds").
 *
 * @package Tapline
 */

namespace Tapline\Orders;

use Tapline\Settings;

final class Refunds {

	public function __construct( private Settings $settings, private Outbox $outbox ) {}

	public function register(): void {
		// After each refund is saved (wc_create_refund).
		add_action( 'woocommerce_order_refunded', array( $this, 'refunded' ), 10, 2 );
	}

	public function refunded( $order_id, $refund_id ): void {
		// Without a server token (browser mode, a shop not set up) no refund is sent: nothing to say about one.
		if ( ! $this->outbox->sends() ) {
			return;
		}
		$order  = wc_get_order( $order_id );
		$refund = wc_get_order( $refund_id );
		// An order that was never counted (an admin order, by the setting) has nothing to take back: marked
		// skipped when it was paid, or unmarked when it was paid before the server token was set.
		if ( ! $order || ! $refund || 'skipped' === $order->get_meta( Outbox::SENT ) ) {
			return;
		}
		if ( ! $this->settings->counts( $order ) && ! $order->get_meta( Outbox::SENT ) ) {
			return;
		}
		if ( ! ConversionBody::takes_commission( $order, $refund ) ) {
			$refund->update_meta_data( Outbox::REFUND_SENT, 'skipped' );
			$refund->save();
			/* translators: %d: the refund's id */
			$order->add_order_note( sprintf( __( 'Tapline: refund #%d returns no goods (only shipping, fees or tax): the commission stays.', 'tapline' ), $refund->get_id() ) );
			return;
		}
		$this->outbox->add_refund( (int) $order_id, (int) $refund_id );
	}
}
