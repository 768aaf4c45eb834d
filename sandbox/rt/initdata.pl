# Initial data for the hub's Request Tracker 5 test instances.
#
# Loaded by `rt-setup-database-5 --action insert --datafile initdata.pl` (see
# sandbox/rt/instance.py). RT only *logs* errors while inserting initial data, so the
# @Final block checks that everything below exists and dies otherwise; it writes the
# hub's auth token to $ENV{HUB_RT_TOKEN_FILE} only when every check passed.
use strict;
use warnings;

our ( @Queues, @CustomFields, @Catalogs, @Assets, @Users, @ACL, @Final );

my @hub_queues  = ( 'User accounts', 'Equipment' );
my $hub_catalog = 'Laptops';

@Queues = (
    {   Name        => 'User accounts',
        Description => 'Brukerkontoer: accounts and access for new employees',
    },
    {   Name        => 'Equipment',
        Description => 'Utstyr: laptops, phones and peripherals',
    },
);

@Catalogs = (
    {   Name        => $hub_catalog,
        Description => 'Bærbare PC-er ready to hand out',
        Lifecycle   => 'assets',
    },
);

@CustomFields = (
    {   Name        => 'ExternalRef',
        Description => 'Key of the hub work item that opened this ticket',
        Type        => 'FreeformSingle',
        LookupType  => 'RT::Queue-RT::Ticket',
        ApplyTo     => [@hub_queues],
    },
    {   Name        => 'ExternalRef',
        Description => 'Key of the hub work item this asset is allocated to',
        Type        => 'FreeformSingle',
        LookupType  => 'RT::Catalog-RT::Asset',
        ApplyTo     => [$hub_catalog],
    },
    {   Name        => 'Model',
        Description => 'Manufacturer and model',
        Type        => 'FreeformSingle',
        LookupType  => 'RT::Catalog-RT::Asset',
        ApplyTo     => [$hub_catalog],
    },
);

my @laptops = (
    [ 'LT-1001', 'Lenovo ThinkPad T14 Gen 5',        'PF4XK2A1' ],
    [ 'LT-1002', 'Lenovo ThinkPad T14 Gen 5',        'PF4XK2B7' ],
    [ 'LT-1003', 'Lenovo ThinkPad T14 Gen 5',        'PF4XK2C3' ],
    [ 'LT-1004', 'Lenovo ThinkPad T14 Gen 5',        'PF4XK2D9' ],
    [ 'LT-1005', 'Lenovo ThinkPad T14 Gen 5',        'PF4XK2E5' ],
    [ 'LT-1006', 'Lenovo ThinkPad T14 Gen 5',        'PF4XK2F2' ],
    [ 'LT-1007', 'Lenovo ThinkPad X1 Carbon Gen 12', 'PW0C9Q3M' ],
    [ 'LT-1008', 'Apple MacBook Air 13 M3',          'FVFHQ3L2Q6L4' ],
    [ 'LT-1009', 'Apple MacBook Air 13 M3',          'FVFHQ3L2Q6L5' ],
    [ 'LT-1010', 'Apple MacBook Pro 14 M3',          'C02ZK1MDMD6T' ],
    [ 'LT-1011', 'Dell Latitude 7450',               '7KX2Y84' ],
    [ 'LT-1012', 'HP EliteBook 840 G11',             '5CG4211XYZ' ],
);

@Assets = map {
    my ( $name, $model, $serial ) = @$_;
    {   Name         => $name,
        Catalog      => $hub_catalog,
        Description  => "Serial $serial",
        Status       => 'new',
        CustomFields => [ { CustomField => 'Model', Content => $model } ],
    }
} @laptops;

@Users = (
    {   Name         => 'hub',
        RealName     => 'OsloMet integration hub',
        EmailAddress => 'hub@integrasjon.oslomet.test',
        Privileged   => 1,
        Comments     => 'Service account; authenticates with an auth token only.',
    },
);

# Least privilege: no SuperUser, no global rights; only what the ticketing connector
# uses on its two queues and one catalog. Users for Requestor/HeldBy are created by RT
# itself (as the system user) from an e-mail address, so AdminUsers is not needed.
my @queue_rights = qw(
    SeeQueue ShowTicket CreateTicket ModifyTicket CommentOnTicket ShowTicketComments
    SeeCustomField ModifyCustomField SetInitialCustomField
);
my @catalog_rights = qw(ShowCatalog ShowAsset ModifyAsset SeeCustomField ModifyCustomField);

@ACL = (
    ( map { { UserId => 'hub', Queue => $_, Right => [@queue_rights] } } @hub_queues ),
    {   UserId     => 'hub',
        ObjectType => 'RT::Catalog',
        ObjectId   => $hub_catalog,
        Right      => [@catalog_rights],
    },
);

sub _hub_check {
    my ( $ok, $what ) = @_;
    die "initdata check failed: $what\n" unless $ok;
}

@Final = (
    sub {
        my $system = RT->SystemUser;

        for my $name (@hub_queues) {
            my $queue = RT::Queue->new($system);
            $queue->Load($name);
            _hub_check( $queue->Id, "queue '$name' missing" );
            my $cf = RT::CustomField->new($system);
            $cf->LoadByName( Name => 'ExternalRef', LookupType => 'RT::Queue-RT::Ticket',
                             ObjectId => $queue->Id );
            _hub_check( $cf->Id, "ticket custom field ExternalRef not applied to '$name'" );
        }

        my $catalog = RT::Catalog->new($system);
        $catalog->Load($hub_catalog);
        _hub_check( $catalog->Id, "catalog '$hub_catalog' missing" );

        my $assets = RT::Assets->new($system);
        $assets->Limit( FIELD => 'Catalog', VALUE => $catalog->Id );
        _hub_check( $assets->Count == @laptops, "expected " . @laptops . " laptops, found " . $assets->Count );
        while ( my $asset = $assets->Next ) {
            _hub_check( ( $asset->FirstCustomFieldValue('Model') // '' ) ne '',
                        'laptop ' . $asset->Name . ' has no Model' );
        }

        my $hub = RT::User->new($system);
        $hub->Load('hub');
        _hub_check( $hub->Id && $hub->Privileged, "privileged user 'hub' missing" );
        _hub_check( !$hub->HasRight( Right => 'SuperUser', Object => RT->System ),
                    "user 'hub' must not be SuperUser" );
        for my $name (@hub_queues) {
            my $queue = RT::Queue->new($system);
            $queue->Load($name);
            _hub_check( $hub->HasRight( Right => $_, Object => $queue ), "hub lacks $_ on '$name'" )
                for @queue_rights;
        }
        _hub_check( $hub->HasRight( Right => $_, Object => $catalog ), "hub lacks $_ on '$hub_catalog'" )
            for @catalog_rights;

        my $file = $ENV{HUB_RT_TOKEN_FILE};
        _hub_check( $file, 'HUB_RT_TOKEN_FILE is not set' );
        my $token = RT::AuthToken->new($system);
        my ( $id, $msg, $authstring ) = $token->Create(
            Owner       => $hub->Id,
            Description => 'oslomet-hub ticketing connector',
        );
        _hub_check( $id && $authstring, "auth token not created: $msg" );
        my $old_umask = umask 0077;
        open my $fh, '>', $file or die "cannot write $file: $!\n";
        print {$fh} $authstring;
        close $fh or die "cannot write $file: $!\n";
        umask $old_umask;
        chmod 0600, $file;
    },
);

1;
