"""The outbox becomes an app of its own: its models were the confirmations
app's. Only Django's picture of them moves: the tables keep their names
and rows (`db_table`), and their content types move with them, so that the
staff roles keep their permissions to read messages and replies."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


MODELS = ["message", "reply", "optout"]


def move_content_types(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType")
    # Left by an earlier upgrade rolled back (`migrate outbox zero`): the
    # confirmations' ones, with the groups' permissions, are the ones to keep.
    content_types.objects.filter(app_label="outbox", model__in=MODELS).delete()
    content_types.objects.filter(app_label="confirmations", model__in=MODELS).update(app_label="outbox")


def move_content_types_back(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType")
    content_types.objects.filter(app_label="confirmations", model__in=MODELS).delete()
    content_types.objects.filter(app_label="outbox", model__in=MODELS).update(app_label="confirmations")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("confirmations", "0016_offer_replies"),
        ("contenttypes", "0002_remove_content_type_name"),
        ('patients', '0004_audit_history'),
        ('schedules', '0014_slot_free_since_waitlist_source'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(move_content_types, move_content_types_back),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='OptOut',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('number', models.CharField(max_length=20, unique=True, verbose_name='number')),
                        ('at', models.DateTimeField(auto_now_add=True, verbose_name='since')),
                    ],
                    options={
                        'verbose_name': 'SMS opt-out',
                        'verbose_name_plural': 'SMS opt-outs',
                        'db_table': 'confirmations_optout',
                    },
                ),
                migrations.CreateModel(
                    name='Message',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name='public id')),
                        ('appointment_ref', models.UUIDField(blank=True, db_index=True, null=True, verbose_name='appointment reference')),
                        ('kind', models.CharField(choices=[('confirmation', 'confirmation'), ('reminder', 'reminder'), ('modification', 'modification'), ('cancellation', 'cancellation'), ('answer', 'answer to an SMS'), ('code', 'one-time code'), ('offer', 'waiting list offer')], max_length=16, verbose_name='kind')),
                        ('channel', models.CharField(blank=True, choices=[('email', 'email'), ('sms', 'SMS'), ('voice', 'phone call')], max_length=8, verbose_name='channel')),
                        ('to', models.CharField(blank=True, max_length=254, verbose_name='to')),
                        ('language', models.CharField(max_length=2, verbose_name='language')),
                        ('due_at', models.DateTimeField(verbose_name='due')),
                        ('planned_start', models.DateTimeField(blank=True, null=True, verbose_name='planned for the appointment at')),
                        ('snapshot', models.JSONField(blank=True, default=dict, verbose_name='appointment snapshot')),
                        ('state', models.CharField(choices=[('pending', 'pending'), ('sending', 'sending'), ('sent', 'sent'), ('delivered', 'delivered'), ('failed', 'failed'), ('withdrawn', 'withdrawn'), ('unknown', 'outcome unknown')], default='pending', max_length=16, verbose_name='state')),
                        ('claimed_at', models.DateTimeField(blank=True, null=True, verbose_name='claimed')),
                        ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent')),
                        ('provider_id', models.CharField(blank=True, max_length=100, verbose_name='provider id')),
                        ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                        ('reason', models.CharField(blank=True, choices=[('past', 'the appointment is already past'), ('no_longer_cancelled', 'the appointment is no longer cancelled'), ('deleted', 'the appointment was deleted'), ('cancelled', 'the appointment was cancelled'), ('patient_changed', 'the patient was changed'), ('moved', 'the appointment was moved'), ('modified', 'the appointment was modified'), ('left_hub', 'the appointment no longer goes through the Hub'), ('code_expired', 'the code expired before it could be sent'), ('offer_closed', 'the offer ended before it could be sent'), ('no_contact', 'no usable contact in the patient record'), ('no_channel', 'no contact in the patient record by a channel this Hub sends by'), ('no_confirmation_call', 'no confirmation call less than 48 hours ahead'), ('no_call_window', 'no time left to call before the appointment'), ('temporary', 'the provider could not take it'), ('bad_address', 'the address or number does not work'), ('refused', 'the provider refused it'), ('no_answer', 'the provider did not answer after receiving it'), ('worker_stopped', 'sending was interrupted'), ('unexpected', 'unexpected error in the Hub'), ('line_busy', 'the line was busy'), ('nobody_answered', 'nobody answered'), ('call_not_placed', 'the call could not be placed'), ('call_cancelled', 'the call was cancelled'), ('sms_not_delivered', 'the SMS was not delivered'), ('email_bounced', "the recipient's server returned the email"), ('email_rejected', 'the email provider refused it')], max_length=32, verbose_name='reason')),
                        ('error', models.TextField(blank=True, verbose_name='technical detail')),
                        ('subject', models.CharField(blank=True, max_length=255, verbose_name='subject')),
                        ('content', models.TextField(blank=True, verbose_name='content as sent')),
                        ('html', models.TextField(blank=True, verbose_name='HTML as sent')),
                        ('skip_contacts', models.JSONField(blank=True, default=list, verbose_name='contacts not to use')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                        ('appointment', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='messages', to='schedules.appointment', verbose_name='appointment')),
                        ('clinic', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='schedules.clinic', verbose_name='clinic')),
                        ('fallback_of', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='fallback', to='outbox.message', verbose_name='resends')),
                        ('patient', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='messages', to='patients.patient', verbose_name='patient')),
                        ('resend_of', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='resend', to='outbox.message', verbose_name='sent again from')),
                        ('resent_by', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='sent again by')),
                    ],
                    options={
                        'verbose_name': 'message',
                        'verbose_name_plural': 'messages',
                        'db_table': 'confirmations_message',
                        'ordering': ['-due_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='Reply',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('channel', models.CharField(choices=[('sms', 'SMS'), ('voice', 'phone call')], max_length=8, verbose_name='channel')),
                        ('number', models.CharField(max_length=20, verbose_name='from')),
                        ('body', models.TextField(blank=True, verbose_name='reply')),
                        ('received_at', models.DateTimeField(auto_now_add=True, verbose_name='received')),
                        ('provider_id', models.CharField(blank=True, max_length=64, verbose_name='provider id')),
                        ('outcome', models.CharField(choices=[('received', 'received, not yet read'), ('confirmed', 'confirmed the appointment'), ('already', 'confirmation already recorded'), ('opted_out', 'opted out of SMS'), ('opted_in', 'opted back in to SMS'), ('not_understood', 'not understood'), ('no_appointment', 'no upcoming appointment to confirm'), ('help', 'asked for help'), ('wants_to_cancel', 'wants to cancel'), ('offer_accepted', 'took a waiting list offer'), ('offer_gone', 'answered an offer no longer open')], default='received', max_length=16, verbose_name='outcome')),
                        ('handled_at', models.DateTimeField(blank=True, null=True, verbose_name='handled')),
                        ('answer', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='answer_to', to='outbox.message', verbose_name='answer')),
                        ('clinic', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='schedules.clinic', verbose_name='clinic')),
                        ('handled_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='handled by')),
                        ('message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='replies', to='outbox.message', verbose_name='answers')),
                    ],
                    options={
                        'verbose_name': 'patient reply',
                        'verbose_name_plural': 'patient replies',
                        'db_table': 'confirmations_reply',
                        'ordering': ['-received_at', '-id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(condition=models.Q(('state', 'pending')), fields=['due_at'], name='message_pending_by_due'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(condition=models.Q(('state', 'sending')), fields=['claimed_at'], name='message_sending_by_claim'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(condition=models.Q(('provider_id', ''), _negated=True), fields=['provider_id'], name='message_by_provider_id'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(condition=models.Q(('channel', 'sms')), fields=['to', '-sent_at'], name='message_sms_by_recipient'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(fields=['appointment', '-due_at'], name='message_by_appointment'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(fields=['clinic', '-due_at', '-id'], name='message_by_clinic_due'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(fields=['-due_at', '-id'], name='message_by_due'),
                ),
                migrations.AddConstraint(
                    model_name='reply',
                    constraint=models.UniqueConstraint(condition=models.Q(('provider_id', ''), _negated=True), fields=('provider_id',), name='reply_once_per_provider_id'),
                ),
    
            ],
            database_operations=[],
        ),
    ]
