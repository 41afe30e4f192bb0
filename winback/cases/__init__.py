"""What a survey call leads to beyond its answers (issue 18): the appointment the customer
made, the complaint heard as a case of its own, the voucher offered and redeemed at the desk."""
