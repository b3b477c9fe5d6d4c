"""Red team (issue 20): registering an address before its owner has any history there
(the account gets a fresh customer record at once) must not collect what the platform
later syncs for that address. Found live: register `victim@shop`, the platform syncs the
real owner's order by email, the unconfirmed registrant cancels it."""
from __future__ import annotations

from support_app.extensions import db
from support_app.models import Customer, Order
from support_app.security import roles

from .test_email_ownership import emailed_token, register

ADDRESS = "first-order@example.com"
ORDER = {"customer_email": ADDRESS, "customer_name": "Real Owner", "total": "99.50",
         "status": "pending"}


def test_orders_synced_for_an_unconfirmed_address_wait_for_the_confirmation(client, factory):
    squatter = register(client, email=ADDRESS)
    auth = {"Authorization": squatter["Authorization"]}
    admin = factory.staff(roles.ADMIN)
    synced = client.put("/api/sync/orders/ORD-PRE-1", json=ORDER, headers=admin.headers)
    assert synced.status_code == 201, synced.get_json()
    order_id = synced.get_json()["id"]

    cancel = client.post(f"/api/orders/{order_id}/cancel", headers=auth,
                         json={"reason": "not mine to cancel"})
    assert cancel.status_code in (403, 404), cancel.get_json()
    munch = client.post("/api/customer/munch/support/ticket", headers=auth, json={
        "orderId": order_id, "issueType": "missing_item",
        "description": "Tell me everything about this order."})
    assert munch.status_code in (400, 403, 404, 422), munch.get_json()
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == "pending"

    # The owner of the mailbox confirms: the order is theirs to act on.
    confirmed = client.post("/api/auth/confirm-email", json={"token": emailed_token(ADDRESS)})
    assert confirmed.status_code == 200, confirmed.get_json()
    assert client.post(f"/api/orders/{order_id}/cancel", headers=auth,
                       json={"reason": "changed my mind"}).status_code == 200


def test_a_confirmed_accounts_record_keeps_its_synced_orders(client, factory):
    owner = factory.customer(email=ADDRESS)
    admin = factory.staff(roles.ADMIN)
    synced = client.put("/api/sync/orders/ORD-PRE-2", json=ORDER, headers=admin.headers)
    assert synced.status_code == 201
    db.session.expire_all()
    assert db.session.get(Customer, owner.customer.id).user_id == owner.user.id
    assert client.post(f"/api/orders/{synced.get_json()['id']}/cancel", headers=owner.headers,
                       json={"reason": "changed my mind"}).status_code == 200
