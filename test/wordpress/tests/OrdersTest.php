<?php
/**
 * Paid orders, end to end: WooCommerce's hooks (the stand-in) → the plugin → the worker in
 * workerd → the Tapfiliate stand-in.
 *
 * @package TaplineTests
 */

namespace TaplineTests;

use Automattic\WooCommerce\Utilities\FeaturesUtil;
use Tapline\Orders\Outbox;
use Tapline\Scheduler;
use WC_Standin;

final class OrdersTest extends TestCase {

	public function test_classic_checkout_paid_order_reaches_tapfiliate_once_with_its_attribution(): void {
		$this->shopper_from_anna();
		$order = WC_Standin::classic_checkout( array( 'items' => array( array( 'subtotal' => 60.0 ), array( 'subtotal' => 40.0 ) ), 'discount' => 10.0, 'tax' => 17.1, 'shipping' => 4.9, 'coupons' => array( 'SPRING', 'SUMMER' ) ) );
		$_COOKIE = array(); // the gateway's confirmation is a request of its own, without the shopper's cookie
		$order->payment_complete( 'txn_1' );
		$this->assertSame( array(), $this->postbacks( $order->get_order_number() ), 'nothing is sent before the request ends' );
		$this->end_request();

		$postbacks = $this->postbacks( $order->get_order_number() );
		$this->assertCount( 1, $postbacks );
		$fields = $postbacks[0]['fields'];
		$this->assertEquals( 90, $fields['amount'], 'goods after discounts, without tax and shipping' );
		$this->assertSame( 'anna', $fields['referral_code'] );
		$this->assertSame( 'SPRING', $fields['coupon'] );
		$this->assertSame( '203.0.113.7', $fields['ip'] );
		$this->assertSame( 'Mozilla/5.0 (tapline test shopper)', $fields['user_agent'] );
		$this->assertSame( 'EUR', strtoupper( (string) $fields['currency'] ) );
		$this->assertSame( 'sent', wc_get_order( $order->get_id() )->get_meta( Outbox::SENT ) );
		$this->assertStringContainsString( 'Tapline: conversion 200 sent.', $this->notes( $order ) );
	}

	public function test_block_checkout_keeps_the_attribution_through_the_store_api_hooks(): void {
		$this->shopper_from_anna();
		$order   = WC_Standin::block_checkout( array( 'customer_id' => 42, 'items' => array( array( 'subtotal' => 30.0 ) ) ) );
		$_COOKIE = array();
		$this->assertSame( 'anna', json_decode( wc_get_order( $order->get_id() )->get_meta( '_tapline_attribution' )['tap_data'], true )['referral_code'] );
		$order->payment_complete();
		$this->end_request();
		$postbacks = $this->postbacks( $order->get_order_number() );
		$this->assertCount( 1, $postbacks );
		$this->assertSame( 'anna', $postbacks[0]['fields']['referral_code'] );
		$this->assertSame( '42', (string) $postbacks[0]['fields']['customer_id'] );
	}

	public function test_a_gateway_without_payment_complete_is_sent_when_the_order_reaches_processing(): void {
		$this->shopper_from_anna();
		$order = WC_Standin::classic_checkout( array() );
		$order->update_status( 'processing' ); // cash on delivery: never calls payment_complete
		$this->end_request();
		$this->assertCount( 1, $this->postbacks( $order->get_order_number() ) );

		$downloads = WC_Standin::classic_checkout( array() );
		$downloads->update_status( 'completed' ); // straight to completed
		$this->end_request();
		$this->assertCount( 1, $this->postbacks( $downloads->get_order_number() ) );
	}

	public function test_fired_twice_in_one_request_and_again_later_it_is_sent_once(): void {
		$this->shopper_from_anna();
		$order = WC_Standin::classic_checkout( array() );
		// payment_complete fires woocommerce_order_status_processing and woocommerce_payment_complete: two hooks, one order.
		$order->payment_complete();
		$this->end_request();
		// A later request: the gateway's webhook completes it again, then the merchant marks it completed.
		wc_get_order( $order->get_id() )->payment_complete();
		wc_get_order( $order->get_id() )->update_status( 'completed' );
		$this->end_request();
		$this->assertCount( 1, $this->postbacks( $order->get_order_number() ) );
		$this->assertCount( 1, array_filter( $this->front_seen(), static fn ( $r ) => '/_tap/convert' === $r['path'] ), 'the order marker stops the second post' );

		// Without the marker (two requests racing past it), the worker's ledger answers duplicate.
		$again = wc_get_order( $order->get_id() );
		$again->delete_meta_data( Outbox::SENT );
		$again->save();
		$again->update_status( 'processing' );
		$this->end_request();
		$this->assertCount( 1, $this->postbacks( $order->get_order_number() ) );
		$this->assertStringContainsString( 'Tapline: conversion 200 duplicate.', $this->notes( $order ) );
	}

	public function test_admin_orders_count_only_when_the_setting_says_so(): void {
		$order = WC_Standin::admin_order( array() );
		$order->update_status( 'processing' );
		$this->end_request();
		$this->assertCount( 0, array_filter( $this->front_seen(), static fn ( $r ) => '/_tap/convert' === $r['path'] ) );
		$this->assertSame( 'skipped', wc_get_order( $order->get_id() )->get_meta( Outbox::SENT ) );
		$this->assertStringContainsString( 'created in the admin, not sent', $this->notes( $order ) );

		// Without a server token the plugin sends nothing, so it marks nothing: the order stays to be counted later.
		update_option( 'tapline_settings', array( 'signing_secret' => 'tapline-example-secret' ) );
		$browser_mode = WC_Standin::admin_order( array() );
		$browser_mode->update_status( 'processing' );
		$this->end_request();
		$this->assertSame( '', wc_get_order( $browser_mode->get_id() )->get_meta( Outbox::SENT ) );
		$this->assertStringNotContainsString( 'Tapline', $this->notes( $browser_mode ) );
		// Paid through its "pay for order" link, it reaches the order-received page: not counted there either.
		$this->assertSame( '', WC_Standin::thankyou_page( $browser_mode->get_id() ) );

		// The server token set later: a refund of that uncounted order has nothing to take back, and sends nothing.
		$this->settings( array() );
		wc_create_refund( array( 'order_id' => $browser_mode->get_id(), 'amount' => 5.0 ) );
		$this->end_request();
		$this->assertCount( 0, array_filter( $this->front_seen(), static fn ( $r ) => '/_tap/refund' === $r['path'] ) );

		$this->settings( array( 'admin_orders' => true ) );
		$counted = WC_Standin::admin_order( array() );
		$counted->update_status( 'processing' );
		$this->end_request();
		$this->assertSame( 'unattributed', wc_get_order( $counted->get_id() )->get_meta( Outbox::SENT ), 'sent: a phone order has no affiliate cookie, and the worker records it' );
	}

	public function test_refunds_partial_then_full_take_the_commission_back(): void {
		$this->shopper_from_anna();
		$order = WC_Standin::classic_checkout( array( 'items' => array( array( 'subtotal' => 100.0 ) ), 'tax' => 19.0 ) );
		$order->payment_complete();
		$this->end_request();
		$this->assertEquals( 10, $this->tapfiliate_conversion( $order->get_order_number() )['commissions'][0]['amount'] );

		$partial = wc_create_refund( array( 'order_id' => $order->get_id(), 'amount' => 35.7, 'line_items' => array( array( 'total' => 30.0 ) ) ) );
		$this->end_request();
		$this->assertStringContainsString( sprintf( 'Tapline: refund #%d 200 adjusted.', $partial->get_id() ), $this->notes( $order ) );
		$this->assertEquals( 7, $this->tapfiliate_conversion( $order->get_order_number() )['commissions'][0]['amount'], '30 of 100 goods refunded' );
		$refund_post = array_values( array_filter( $this->front_seen(), static fn ( $r ) => '/_tap/refund' === $r['path'] ) );
		$this->assertCount( 1, $refund_post );

		$full = wc_create_refund( array( 'order_id' => $order->get_id(), 'amount' => 83.3 ) );
		$this->end_request();
		$this->assertStringContainsString( sprintf( 'Tapline: refund #%d 200 reversed.', $full->get_id() ), $this->notes( $order ) );
		$this->assertFalse( $this->tapfiliate_conversion( $order->get_order_number() )['commissions'][0]['approved'] );
		$this->assertSame( 'reversed', wc_get_order( $full->get_id() )->get_meta( Outbox::REFUND_SENT ) );
	}

	public function test_a_renewal_is_attributed_by_its_subscription_and_the_sent_marker_is_not_copied(): void {
		foreach ( array( false, true ) as $legacy_filter ) {
			$this->shopper_from_anna();
			$parent  = WC_Standin::classic_checkout( array( 'items' => array( array( 'subtotal' => 20.0 ) ) ) );
			$_COOKIE = array();
			$parent->payment_complete();
			$this->end_request();
			// The subscription copies the parent's meta, the sent marker included (an early renewal, a resubscribe).
			$subscription = wcs_create_subscription( array( 'order_id' => $parent->get_id() ) );
			$this->assertSame( 'sent', $subscription->get_meta( Outbox::SENT ) );

			$renewal = wcs_create_renewal_order( $subscription, $legacy_filter );
			$this->assertSame( '', $renewal->get_meta( Outbox::SENT ), 'the marker is not copied onto the renewal' );
			$renewal->payment_complete();
			$this->end_request();
			$postbacks = $this->postbacks( $renewal->get_order_number() );
			$this->assertCount( 1, $postbacks, $legacy_filter ? 'wcs_renewal_order_meta' : 'wc_subscriptions_renewal_order_data' );
			$this->assertSame( 'anna', $postbacks[0]['fields']['referral_code'] );
			$this->assertSame( '203.0.113.7', $postbacks[0]['fields']['ip'], "the shopper's, from checkout: no shopper is present at a renewal" );
		}
	}

	public function test_a_renewal_without_copied_meta_reads_the_parent_order(): void {
		$this->shopper_from_anna();
		$parent  = WC_Standin::classic_checkout( array() );
		$_COOKIE = array();
		$subscription = wcs_create_subscription( array( 'order_id' => $parent->get_id() ) );
		$subscription->delete_meta_data( '_tapline_attribution' );
		$subscription->save();
		$renewal = wcs_create_renewal_order( $subscription );
		$renewal->payment_complete();
		$this->end_request();
		$this->assertSame( 'anna', $this->postbacks( $renewal->get_order_number() )[0]['fields']['referral_code'] );
	}

	public function test_a_503_is_retried_by_action_scheduler_and_then_sent_once(): void {
		$this->shopper_from_anna();
		$order = WC_Standin::classic_checkout( array() );
		$this->worker_answers( array( array( 'status' => 503, 'body' => array( 'ok' => false, 'error' => 'not_configured' ) ) ) );
		$order->payment_complete();
		$this->end_request();
		$this->assertCount( 0, $this->postbacks( $order->get_order_number() ) );
		$this->assertStringContainsString( 'Tapline: conversion not delivered (503 not_configured); trying again in 1 min (attempt 1 of 6).', $this->notes( $order ) );
		$this->assertNotFalse( as_next_scheduled_action( Outbox::RETRY_HOOK, array( 'conversion', $order->get_id(), 0, 2 ), Scheduler::GROUP ) );

		$this->assertSame( 1, WC_Standin::run_actions() );
		$this->assertCount( 1, $this->postbacks( $order->get_order_number() ) );
		$this->assertStringContainsString( 'Tapline: conversion 200 sent.', $this->notes( $order ) );
		$this->assertSame( 0, WC_Standin::run_actions(), 'nothing left to retry' );
	}

	public function test_when_tapfiliate_answers_503_the_worker_queues_it_and_the_plugin_is_done(): void {
		$this->shopper_from_anna();
		$order = WC_Standin::classic_checkout( array() );
		$this->http( 'POST', getenv( 'TAPLINE_TEST_STANDIN' ) . '/__control/faults', '{"next":["503"]}' );
		$order->payment_complete();
		$this->end_request();
		$this->assertStringContainsString( 'Tapline: conversion 202 queued.', $this->notes( $order ) );
		$this->assertSame( 'queued', wc_get_order( $order->get_id() )->get_meta( Outbox::SENT ), "the worker's ledger retries it: the plugin does not" );
		$this->assertSame( 0, WC_Standin::run_actions() );
	}

	public function test_a_429_a_timeout_and_a_wrong_token_are_retried(): void {
		$order = WC_Standin::classic_checkout( array() );
		$this->worker_answers( array( array( 'status' => 429, 'body' => array( 'ok' => false, 'error' => 'rate_limited' ) ) ) );
		$order->payment_complete();
		$this->end_request();
		$this->assertStringContainsString( 'not delivered (429 rate_limited)', $this->notes( $order ) );
		$this->settings( array( 'worker_url' => 'http://127.0.0.1:9/_tap/' ) ); // nothing listens on port 9
		WC_Standin::run_actions();
		$this->assertStringContainsString( 'not delivered (no answer', $this->notes( $order ) );
		$this->assertStringContainsString( '(attempt 2 of 6)', $this->notes( $order ) );

		// A rotated server token: the order waits for the merchant to paste the new one, it is not dropped.
		$this->settings( array( 'server_token' => 'wrong-token' ) );
		WC_Standin::run_actions();
		$this->assertStringContainsString( 'not delivered (401 unauthorized', $this->notes( $order ) );
		$this->assertSame( '', wc_get_order( $order->get_id() )->get_meta( Outbox::SENT ) );
		$this->settings( array() );
		$this->assertSame( 1, WC_Standin::run_actions() );
		$this->assertSame( 'unattributed', wc_get_order( $order->get_id() )->get_meta( Outbox::SENT ) );
	}

	public function test_retries_are_bounded_and_the_order_action_sends_it_again(): void {
		$this->settings( array( 'worker_url' => 'http://127.0.0.1:9/_tap/' ) );
		$order = WC_Standin::classic_checkout( array() );
		$order->payment_complete();
		$this->end_request();
		$runs = 0;
		while ( WC_Standin::run_actions() ) {
			++$runs;
		}
		$this->assertSame( count( Outbox::BACKOFF ), $runs );
		$this->assertStringContainsString( 'Tapline: conversion not delivered after 6 attempts', $this->notes( $order ) );

		$this->settings( array() );
		$this->assertArrayHasKey( 'tapline_resend', apply_filters( 'woocommerce_order_actions', array() ) );
		do_action( 'woocommerce_order_action_tapline_resend', wc_get_order( $order->get_id() ) );
		$this->assertSame( 'unattributed', wc_get_order( $order->get_id() )->get_meta( Outbox::SENT ) );
	}

	public function test_without_action_scheduler_a_retry_is_a_wp_cron_event(): void {
		( new Scheduler( false ) )->later( 60, Outbox::RETRY_HOOK, array( 'conversion', 7, 0, 2 ) );
		$this->assertNotFalse( wp_next_scheduled( Outbox::RETRY_HOOK, array( 'conversion', 7, 0, 2 ) ) );
		( new Scheduler( false ) )->cancel( Outbox::RETRY_HOOK, array( 'conversion', 7, 0, 2 ) );
		$this->assertFalse( wp_next_scheduled( Outbox::RETRY_HOOK, array( 'conversion', 7, 0, 2 ) ) );
	}

	public function test_a_hostile_answer_stays_text_in_the_order_note(): void {
		$order = WC_Standin::classic_checkout( array() );
		$this->worker_answers( array( array( 'status' => 422, 'body' => array( 'ok' => false, 'error' => '<script>alert(1)</script>', 'issues' => array( array( 'path' => array( '<img src=x onerror=alert(2)>' ) ) ) ) ) ) );
		$order->payment_complete();
		$this->end_request();
		$notes = $this->notes( $order );
		$this->assertStringContainsString( 'Tapline: conversion 422', $notes );
		$this->assertStringNotContainsString( '<', $notes );
	}

	public function test_without_a_server_token_nothing_is_sent(): void {
		update_option( 'tapline_settings', array( 'worker_url' => getenv( 'TAPLINE_TEST_FRONT' ) . '/_tap/' ) );
		$order = WC_Standin::classic_checkout( array() );
		$order->payment_complete();
		$this->end_request();
		$this->assertSame( array(), $this->front_seen() );
	}

	public function test_with_only_a_signing_secret_the_order_received_page_signs_the_order(): void {
		update_option( 'tapline_settings', array( 'signing_secret' => 'tapline-example-secret' ) );
		$order = WC_Standin::classic_checkout( array( 'items' => array( array( 'subtotal' => 49.5 ) ), 'customer_id' => 7 ) );
		ob_start();
		do_action( 'woocommerce_thankyou', $order->get_id() );
		$html = ob_get_clean();
		$this->assertSame( 1, preg_match( '#^<script>tap\(\'convert\', (\{.*\})\)</script>$#', trim( $html ), $match ), $html );
		$call   = json_decode( $match[1], true );
		$signed = json_decode( $call['signed'], true );
		$this->assertSame( hash_hmac( 'sha256', $call['signed'], 'tapline-example-secret' ), $call['signature'] );
		$this->assertSame( array( (string) $order->get_id(), 49.5, 'EUR', '7' ), array( $signed['external_id'], $signed['amount'], $signed['currency'], $signed['customer_id'] ) );
		$this->assertGreaterThan( time() + 6 * DAY_IN_SECONDS, $signed['exp'] );

		$this->settings( array( 'signing_secret' => 'tapline-example-secret' ) );
		ob_start();
		do_action( 'woocommerce_thankyou', $order->get_id() );
		$this->assertSame( '', ob_get_clean(), 'with a server token the order goes from the server only' );
	}

	public function test_with_only_a_signing_secret_a_failed_or_cancelled_order_signs_no_conversion(): void {
		update_option( 'tapline_settings', array( 'signing_secret' => 'tapline-example-secret' ) );
		// WooCommerce's thank-you template runs woocommerce_thankyou for a declined card too.
		foreach ( array( 'failed', 'cancelled', 'refunded' ) as $status ) {
			$order = WC_Standin::classic_checkout( array( 'status' => $status, 'payment_method' => 'stripe' ) );
			$this->assertSame( '', WC_Standin::thankyou_page( $order->get_id() ), "a $status order is no sale" );
		}
		// Counted: an order still pending when the shopper is back from PayPal (its IPN comes later), and an
		// on-hold one (bank transfer, cheque) that the merchant marks paid when the money arrives.
		foreach ( array( 'pending' => 'paypal', 'on-hold' => 'bacs', 'processing' => 'stripe' ) as $status => $gateway ) {
			$order = WC_Standin::classic_checkout( array( 'status' => $status, 'payment_method' => $gateway ) );
			$this->assertStringStartsWith( "<script>tap('convert', ", WC_Standin::thankyou_page( $order->get_id() ), $status );
		}
	}

	public function test_an_order_whose_recorded_ip_is_not_an_address_is_sent_without_it(): void {
		// Behind a proxy that writes X-Real-IP: unknown, WooCommerce records "unknown" as the customer's IP.
		$_SERVER['HTTP_X_REAL_IP'] = 'unknown';
		$this->shopper_from_anna();
		$order   = WC_Standin::classic_checkout( array() );
		$_COOKIE = array();
		$this->assertSame( 'unknown', $order->get_customer_ip_address() );
		$order->payment_complete();
		$this->end_request();
		$postbacks = $this->postbacks( $order->get_order_number() );
		$this->assertCount( 1, $postbacks, $this->notes( $order ) );
		$this->assertSame( 'anna', $postbacks[0]['fields']['referral_code'] );
		$this->assertArrayNotHasKey( 'ip', $postbacks[0]['fields'] );
		$this->assertSame( 'sent', wc_get_order( $order->get_id() )->get_meta( Outbox::SENT ) );

		// An order kept before this check, with a proxy's list in its record: sent too, without it.
		$older = WC_Standin::classic_checkout( array() );
		$older->update_meta_data( '_tapline_attribution', array( 'tap_data' => '{"referral_code":"anna"}', 'ip' => '203.0.113.9, 10.0.0.1', 'user_agent' => 'Mozilla/5.0' ) );
		$older->save();
		$older->payment_complete();
		$this->end_request();
		$this->assertCount( 1, $this->postbacks( $older->get_order_number() ), $this->notes( $older ) );
	}

	public function test_an_address_the_worker_would_refuse_is_left_out_not_the_order(): void {
		// WooCommerce records X-Real-IP as the shopper sent it. WordPress's rest_is_ip_address takes IPv4 with
		// leading zeros and an IPv6 `::` that stands for no group, which the worker refuses with the whole event
		// (proxy/lib/network.ts), and throws on an IPv6 `::` with more than 8 groups around it.
		foreach ( array( '01.2.3.4', '001.002.003.004', '1:2:3:4:5:6:7:8::', '1:2:3:4:5:6:7:8:9::', 'fe80::1%eth0' ) as $ip ) {
			$_SERVER['HTTP_X_REAL_IP'] = $ip;
			$this->shopper_from_anna();
			$order   = WC_Standin::classic_checkout( array() );
			$_COOKIE = array();
			$order->payment_complete();
			$this->end_request();
			$postbacks = $this->postbacks( $order->get_order_number() );
			$this->assertCount( 1, $postbacks, "$ip: " . $this->notes( $order ) );
			$this->assertSame( 'anna', $postbacks[0]['fields']['referral_code'] );
			$this->assertArrayNotHasKey( 'ip', $postbacks[0]['fields'], $ip );
		}
		// An order kept before this check, with such an address in its record: sent too, without it.
		$older = WC_Standin::classic_checkout( array() );
		$older->update_meta_data( '_tapline_attribution', array( 'tap_data' => '{"referral_code":"anna"}', 'ip' => '001.002.003.004', 'user_agent' => 'Mozilla/5.0' ) );
		$older->save();
		$older->payment_complete();
		$this->end_request();
		$this->assertCount( 1, $this->postbacks( $older->get_order_number() ), $this->notes( $older ) );
		// The forms the worker takes still go through.
		foreach ( array( '0.0.0.0' => '0.0.0.0', ' 198.51.100.4 ' => '198.51.100.4', '2001:DB8::1' => '2001:DB8::1', '::ffff:192.0.2.1' => '::ffff:192.0.2.1' ) as $ip => $sent ) {
			$_SERVER['HTTP_X_REAL_IP'] = $ip;
			$this->shopper_from_anna();
			$order   = WC_Standin::classic_checkout( array() );
			$_COOKIE = array();
			$order->payment_complete();
			$this->end_request();
			$this->assertSame( $sent, $this->postbacks( $order->get_order_number() )[0]['fields']['ip'] ?? null, $this->notes( $order ) );
		}
	}

	public function test_without_a_server_token_a_refund_leaves_no_tapline_note(): void {
		// Browser mode (a signing secret only) and a shop not set up: the plugin sends no refunds, so it says nothing of them.
		foreach ( array( array( 'signing_secret' => 'tapline-example-secret' ), array() ) as $settings ) {
			update_option( 'tapline_settings', $settings );
			$order = WC_Standin::classic_checkout( array( 'items' => array( array( 'subtotal' => 100.0 ) ), 'shipping' => 10.0 ) );
			$order->payment_complete();
			$shipping = wc_create_refund( array( 'order_id' => $order->get_id(), 'amount' => 10.0, 'line_items' => array( array( 'type' => 'shipping', 'total' => 10.0 ) ) ) );
			$goods    = wc_create_refund( array( 'order_id' => $order->get_id(), 'amount' => 50.0, 'line_items' => array( array( 'total' => 50.0 ) ) ) );
			$this->end_request();
			$this->assertStringNotContainsString( 'Tapline', $this->notes( $order ) );
			$this->assertSame( '', wc_get_order( $shipping->get_id() )->get_meta( Outbox::REFUND_SENT ) );
			$this->assertSame( '', wc_get_order( $goods->get_id() )->get_meta( Outbox::REFUND_SENT ) );
			$this->assertSame( array(), $this->front_seen() );
			$this->assertSame( array(), WC_Standin::$actions );
		}
	}

	public function test_a_refund_of_shipping_fees_or_tax_alone_leaves_the_commission(): void {
		$this->shopper_from_anna();
		$order = WC_Standin::classic_checkout( array( 'items' => array( array( 'subtotal' => 100.0 ) ), 'shipping' => 10.0, 'tax' => 19.0 ) );
		$order->payment_complete();
		$this->end_request();
		$this->assertEquals( 10, $this->tapfiliate_conversion( $order->get_order_number() )['commissions'][0]['amount'] );

		$refunds = array(
			wc_create_refund( array( 'order_id' => $order->get_id(), 'amount' => 10.0, 'line_items' => array( array( 'type' => 'shipping', 'total' => 10.0 ) ) ) ),
			wc_create_refund( array( 'order_id' => $order->get_id(), 'amount' => 2.0, 'line_items' => array( array( 'type' => 'fee', 'total' => 2.0 ) ) ) ),
			// The tax of a product line alone: WooCommerce keeps the product line, with a total of 0.
			wc_create_refund( array( 'order_id' => $order->get_id(), 'amount' => 5.0, 'line_items' => array( array( 'total' => 0.0, 'tax' => 5.0 ) ) ) ),
		);
		$this->end_request();
		$this->assertCount( 0, array_filter( $this->front_seen(), static fn ( $r ) => '/_tap/refund' === $r['path'] ) );
		$this->assertEquals( 10, $this->tapfiliate_conversion( $order->get_order_number() )['commissions'][0]['amount'] );
		foreach ( $refunds as $refund ) {
			$this->assertSame( 'skipped', wc_get_order( $refund->get_id() )->get_meta( Outbox::REFUND_SENT ) );
			$this->assertStringContainsString( sprintf( 'Tapline: refund #%d returns no goods (only shipping, fees or tax): the commission stays.', $refund->get_id() ), $this->notes( $order ) );
		}

		// A refund that lists nothing (an amount typed in) is still its share of the goods.
		$typed = wc_create_refund( array( 'order_id' => $order->get_id(), 'amount' => 12.9 ) );
		$this->end_request();
		$this->assertStringContainsString( sprintf( 'Tapline: refund #%d 200 adjusted.', $typed->get_id() ), $this->notes( $order ) );
		$this->assertEquals( 9, $this->tapfiliate_conversion( $order->get_order_number() )['commissions'][0]['amount'], '12.9 of a 129 order is 10 of its 100 goods' );
	}

	public function test_a_paid_order_has_its_first_retry_queued_before_the_request_ends(): void {
		$this->shopper_from_anna();
		$order = WC_Standin::classic_checkout( array() );
		$order->payment_complete();
		$retry = array( 'conversion', $order->get_id(), 0, 2 );
		$this->assertNotFalse( as_next_scheduled_action( Outbox::RETRY_HOOK, $retry, Scheduler::GROUP ), 'kept in the database at once, not only in memory' );
		$this->assertCount( 1, WC_Standin::$actions, 'one, though payment_complete fires two hooks' );

		// PHP is killed before shutdown: nothing in memory survives, the queued retry sends it.
		( new \ReflectionProperty( Outbox::class, 'pending' ) )->setValue( $this->outbox(), array() );
		$this->assertSame( 1, WC_Standin::run_actions() );
		$this->assertCount( 1, $this->postbacks( $order->get_order_number() ) );
		$this->assertSame( 'sent', wc_get_order( $order->get_id() )->get_meta( Outbox::SENT ) );

		// A request that ends normally sends it and takes its retry back; a refund likewise.
		$next = WC_Standin::classic_checkout( array() );
		$next->payment_complete();
		$this->end_request();
		$this->assertSame( array(), WC_Standin::$actions );
		$refund = wc_create_refund( array( 'order_id' => $next->get_id(), 'amount' => 20.0, 'line_items' => array( array( 'total' => 20.0 ) ) ) );
		$this->assertNotFalse( as_next_scheduled_action( Outbox::RETRY_HOOK, array( 'refund', $next->get_id(), $refund->get_id(), 2 ), Scheduler::GROUP ) );
		$this->end_request();
		$this->assertSame( array(), WC_Standin::$actions );
	}

	public function test_a_retry_that_runs_after_woocommerce_is_deactivated_does_nothing(): void {
		// Action Scheduler can outlive WooCommerce (other plugins bundle it): a queued retry then runs without wc_get_order.
		// A PHP process of its own, with WordPress loaded without the WooCommerce stand-in.
		$script = tempnam( sys_get_temp_dir(), 'tapline-no-wc-' );
		file_put_contents(
			$script,
			<<<'PHP'
			<?php
			$GLOBALS['wp_filter'] = array( 'option_active_plugins' => array( 10 => array( array( 'function' => static fn ( $plugins ) => array_values( array_filter( (array) $plugins, static fn ( $plugin ) => str_starts_with( $plugin, 'tapline/' ) ) ), 'accepted_args' => 1 ) ) ) );
			$site                   = parse_url( getenv( 'TAPLINE_WP_SITE' ) );
			$_SERVER['HTTP_HOST']   = $site['host'] . ':' . $site['port'];
			$_SERVER['REQUEST_URI'] = '/';
			define( 'WP_DISABLE_FATAL_ERROR_HANDLER', true ); // PHP's own message, not WordPress's error page
			require getenv( 'TAPLINE_WP_ROOT' ) . '/wp-load.php';
			if ( function_exists( 'wc_get_order' ) || ! class_exists( 'Tapline\Orders\Outbox' ) ) {
				exit( "not the situation under test\n" );
			}
			ini_set( 'display_errors', '1' );
			do_action( 'tapline_retry', 'conversion', 101, 0, 2 );
			do_action( 'tapline_retry', 'refund', 101, 102, 2 );
			echo "ran\n";
			PHP
		);
		exec( 'php ' . escapeshellarg( $script ) . ' 2>&1', $output, $status );
		unlink( $script );
		$this->assertSame( array( 0, 'ran' ), array( $status, trim( implode( "
", $output ) ) ) );
	}

	public function test_hpos_compatibility_is_declared_for_the_plugin_file(): void {
		$this->assertSame( true, FeaturesUtil::$declared['custom_order_tables'][ \Tapline\PLUGIN_FILE ] ?? null );
		$this->assertStringEndsWith( 'tapline.php', \Tapline\PLUGIN_FILE );
	}
}
