<?php
/**
 * When an order is paid, its conversion goes to the outbox, once.
 *
 * "Paid" is WooCommerce's payment_complete, or the order reaching processing
 * or completed, for gateways that never call payment_complete (cash on
 * delivery, bank transfer marked paid, some wallets). All three may fire for
 * one order, in one request or several: the outbox keeps one per order, and
 * the order's marker (Outbox::SENT) stops every later one.
 *
 * @package Tapline
 */

namespace Tapline\Orders;

use Tapline\Settings;

final class Paid {

	public function __construct( private Settings $settings, private Outbox $outbox ) {}

	public function register(): void {
		add_action( 'woocommerce_payment_complete', array( $this, 'paid' ) );
		add_action( 'woocommerce_order_status_processing', array( $this, 'paid' ) );
		add_action( 'woocommerce_order_status_completed', array( $this, 'paid' ) );
		// "Send to Tapline again" in the order's Order actions: WooCommerce runs it while saving the
		// order edit form, after its own nonce and edit capability checks.
		add_filter( 'woocommerce_order_actions', array( $this, 'order_action' ) );
		add_action( 'woocommerce_order_action_tapline_resend', array( $this->outbox, 'resend' ) );
	}

	public function order_action( $actions ) {
		$actions['tapline_resend'] = __( 'Send to Tapline again', 'tapline' );
		return $actions;
	}

	public function paid( $order_id ): void {
		$order = wc_get_order( $order_id );
		// Without a server token nothing is sent from here, so nothing is marked either: an admin
		// order marked skipped now would stay unsent once the token is set and admin orders count.
		if ( ! $this->outbox->sends() || ! $order || 'shop_order' !== $order->get_type() || $order->get_meta( Outbox::SENT ) ) {
			return;
		}
		if ( ! $this->settings->counts( $order ) ) {
			$order->update_meta_data( Outbox::SENT, 'skipped' );
			$order->add_order_note( __( 'Tapline: an order created in the admin, not sent (Settings → Tapline counts them when you choose).', 'tapline' ) );
			$order->save();
			return;
		}
		$this->outbox->add_conversion( (int) $order->get_id() );
	}
}
